#ifndef TEXTGEN_ENGINE_COMPUTE_DNNL_MATMUL_H_
#define TEXTGEN_ENGINE_COMPUTE_DNNL_MATMUL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "engine/compute/weight_type.h"

namespace textgen {

// The activation a matmul applies to its output, fused into the same
// primitive.
enum class Activation { kNone, kGeluTanh };

// A weight matrix W [out_features, in_features], reordered once into the
// memory layout oneDNN's matmul prefers on this CPU, with an optional bias
// and activation applied to the product. Opaque outside the adapter, so no
// other file includes dnnl.hpp.
class PackedMatrix {
 public:
  ~PackedMatrix();
  PackedMatrix(PackedMatrix&&) noexcept;
  PackedMatrix& operator=(PackedMatrix&&) noexcept;

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  WeightType type() const { return type_; }
  bool has_bias() const { return has_bias_; }
  Activation activation() const { return activation_; }

 private:
  friend class DnnlMatmul;
  struct Storage;

  PackedMatrix(std::unique_ptr<Storage> storage, int64_t in_features, int64_t out_features,
               WeightType type, bool has_bias, Activation activation);

  std::unique_ptr<Storage> storage_;
  int64_t in_features_ = 0;
  int64_t out_features_ = 0;
  WeightType type_ = WeightType::kF32;
  bool has_bias_ = false;
  Activation activation_ = Activation::kNone;
};

// The one owner of oneDNN's engine, stream and primitive cache. Every matmul
// of the engine goes through Multiply. Not thread-safe: one engine thread
// calls it at a time.
class DnnlMatmul {
 public:
  DnnlMatmul();
  ~DnnlMatmul();
  DnnlMatmul(const DnnlMatmul&) = delete;
  DnnlMatmul& operator=(const DnnlMatmul&) = delete;

  // Copies `weights` [out_features, in_features] (row-major f32) into a
  // PackedMatrix of `type`, converting f32 to bf16 when asked. `bias`
  // [out_features] may be null; it stays f32.
  PackedMatrix Pack(const float* weights, int64_t out_features, int64_t in_features,
                    WeightType type, const float* bias = nullptr,
                    Activation activation = Activation::kNone);

  // y [rows, out_features] = activation(x [rows, in_features] * W^T + bias),
  // all row-major f32.
  void Multiply(const float* x, int64_t rows, const PackedMatrix& w, float* y);

  // The instruction set oneDNN dispatches to, for the start-up log line.
  static std::string CpuIsaName();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Sets the number of OpenMP threads oneDNN's primitives use.
void SetComputeThreads(int threads);

// Returns the number of OpenMP threads oneDNN's primitives use.
int ComputeThreads();

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_COMPUTE_DNNL_MATMUL_H_
