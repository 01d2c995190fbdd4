#include "engine/compute/dnnl_matmul.h"

#include <omp.h>

#include <cstring>
#include <optional>
#include <unordered_map>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace textgen {
namespace {

using dnnl::memory;
using Dims = memory::dims;
using Tag = memory::format_tag;

// The row count whose preferred weight layout every packed matrix uses. The
// layout depends on the matmul shape, and a weight is packed once for all
// row counts; 16 is a typical batched step, so batched steps get the layout
// that suits them and single rows still run on it.
constexpr int64_t kPackRows = 16;

memory::data_type DataTypeOf(WeightType type) {
  return type == WeightType::kBF16 ? memory::data_type::bf16 : memory::data_type::f32;
}

}  // namespace

struct PackedMatrix::Storage {
  memory packed;  // [in_features, out_features] in oneDNN's chosen layout
  memory bias;    // [1, out_features] f32, or empty
};

PackedMatrix::PackedMatrix(std::unique_ptr<Storage> storage, int64_t in_features,
                           int64_t out_features, WeightType type, bool has_bias,
                           Activation activation)
    : storage_(std::move(storage)),
      in_features_(in_features),
      out_features_(out_features),
      type_(type),
      has_bias_(has_bias),
      activation_(activation) {}
PackedMatrix::~PackedMatrix() = default;
PackedMatrix::PackedMatrix(PackedMatrix&&) noexcept = default;
PackedMatrix& PackedMatrix::operator=(PackedMatrix&&) noexcept = default;

// One cached matmul: built once per (rows, in, out, weight type) and reused.
struct CachedMatmul {
  dnnl::matmul matmul;
  memory::desc src_desc;  // [rows, in_features] f32 or bf16, row-major
  memory::desc dst_desc;  // [rows, out_features] f32, row-major
  // For bf16 weights the f32 activations are converted first, because
  // oneDNN 2.6's matmul takes src and weights of the same type.
  std::optional<dnnl::reorder> to_bf16;
  memory::desc f32_src_desc;
  memory bf16_src;  // scratch [rows, in_features] bf16
};

struct DnnlMatmul::State {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  // Keyed by rows, in_features, out_features, weight type, bias, activation.
  absl::flat_hash_map<std::tuple<int64_t, int64_t, int64_t, WeightType, bool, Activation>,
                      CachedMatmul>
      cache;
};

namespace {

memory::desc BiasDesc(int64_t out_features) {
  return memory::desc({1, out_features}, memory::data_type::f32, Tag::ab);
}

dnnl::primitive_attr AttributesFor(Activation activation) {
  dnnl::primitive_attr attributes;
  if (activation == Activation::kGeluTanh) {
    dnnl::post_ops post_ops;
    post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_tanh, 0.0f, 0.0f);
    attributes.set_post_ops(post_ops);
  }
  return attributes;
}

}  // namespace

DnnlMatmul::DnnlMatmul() : state_(std::make_unique<State>()) {}
DnnlMatmul::~DnnlMatmul() = default;

PackedMatrix DnnlMatmul::Pack(const float* weights, int64_t out_features, int64_t in_features,
                              WeightType type, const float* bias, Activation activation) {
  memory::data_type data_type = DataTypeOf(type);
  memory::desc src_desc({kPackRows, in_features}, data_type, Tag::ab);
  memory::desc any_weights({in_features, out_features}, data_type, Tag::any);
  memory::desc dst_desc({kPackRows, out_features}, memory::data_type::f32, Tag::ab);
  dnnl::matmul::primitive_desc layout_query(dnnl::matmul::desc(src_desc, any_weights, dst_desc),
                                            state_->engine);

  // The file's row-major [out, in] is oneDNN's [in, out] with tag ba.
  memory::desc user_desc({in_features, out_features}, memory::data_type::f32, Tag::ba);
  memory user(user_desc, state_->engine, const_cast<float*>(weights));
  auto storage = std::make_unique<PackedMatrix::Storage>();
  storage->packed = memory(layout_query.weights_desc(), state_->engine);
  dnnl::reorder(user, storage->packed).execute(state_->stream, user, storage->packed);
  state_->stream.wait();

  if (bias != nullptr) {
    storage->bias = memory(BiasDesc(out_features), state_->engine);
    std::memcpy(storage->bias.get_data_handle(), bias, out_features * sizeof(float));
  }
  return PackedMatrix(std::move(storage), in_features, out_features, type, bias != nullptr,
                      activation);
}

void DnnlMatmul::Multiply(const float* x, int64_t rows, const PackedMatrix& w, float* y) {
  auto key = std::make_tuple(rows, w.in_features(), w.out_features(), w.type(), w.has_bias(),
                             w.activation());
  auto [it, inserted] = state_->cache.try_emplace(key);
  CachedMatmul& cached = it->second;
  if (inserted) {
    memory::data_type data_type = DataTypeOf(w.type());
    cached.src_desc = memory::desc({rows, w.in_features()}, data_type, Tag::ab);
    cached.dst_desc = memory::desc({rows, w.out_features()}, memory::data_type::f32, Tag::ab);
    const memory::desc weights_desc = w.storage_->packed.get_desc();
    dnnl::matmul::desc desc =
        w.has_bias() ? dnnl::matmul::desc(cached.src_desc, weights_desc,
                                          BiasDesc(w.out_features()), cached.dst_desc)
                     : dnnl::matmul::desc(cached.src_desc, weights_desc, cached.dst_desc);
    dnnl::matmul::primitive_desc pd(desc, AttributesFor(w.activation()), state_->engine);
    cached.matmul = dnnl::matmul(pd);
    if (w.type() == WeightType::kBF16) {
      cached.f32_src_desc = memory::desc({rows, w.in_features()}, memory::data_type::f32, Tag::ab);
      cached.bf16_src = memory(cached.src_desc, state_->engine);
      cached.to_bf16 = dnnl::reorder(dnnl::reorder::primitive_desc(
          state_->engine, cached.f32_src_desc, state_->engine, cached.src_desc));
    }
  }

  memory dst(cached.dst_desc, state_->engine, y);
  memory src;
  if (cached.to_bf16) {
    memory f32_src(cached.f32_src_desc, state_->engine, const_cast<float*>(x));
    cached.to_bf16->execute(state_->stream, f32_src, cached.bf16_src);
    src = cached.bf16_src;
  } else {
    src = memory(cached.src_desc, state_->engine, const_cast<float*>(x));
  }
  std::unordered_map<int, memory> arguments = {
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w.storage_->packed}, {DNNL_ARG_DST, dst}};
  if (w.has_bias()) arguments[DNNL_ARG_BIAS] = w.storage_->bias;
  cached.matmul.execute(state_->stream, arguments);
  state_->stream.wait();
}

std::string DnnlMatmul::CpuIsaName() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

void SetComputeThreads(int threads) { omp_set_num_threads(threads); }

int ComputeThreads() { return omp_get_max_threads(); }

}  // namespace textgen
