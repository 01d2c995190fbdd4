#include "tools/convert/gguf_tensor_layout.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace textgen {
namespace {

std::string LayerTensor(int layer, absl::string_view suffix) {
  return absl::StrCat("blk.", layer, ".", suffix);
}

}  // namespace

uint64_t TensorSpec::ElementCount() const {
  uint64_t count = 1;
  for (uint64_t dim : dims) count *= dim;
  return count;
}

std::vector<TensorSpec> LlamaTensorSpecs(const LlamaConfig& config) {
  const uint64_t dim = config.dim, hidden = config.hidden_dim, kv_dim = config.kv_dim();
  const uint64_t vocab = config.vocab_size;
  const TensorRole kMatrix = TensorRole::kMatrix, kNorm = TensorRole::kNormWeight;

  std::vector<TensorSpec> specs;
  specs.push_back({"token_embd.weight", {dim, vocab}, kMatrix});
  for (int l = 0; l < config.n_layers; ++l) {
    specs.push_back({LayerTensor(l, "attn_norm.weight"), {dim}, kNorm});
    specs.push_back({LayerTensor(l, "attn_q.weight"), {dim, dim}, kMatrix});
    specs.push_back({LayerTensor(l, "attn_k.weight"), {dim, kv_dim}, kMatrix});
    specs.push_back({LayerTensor(l, "attn_v.weight"), {dim, kv_dim}, kMatrix});
    specs.push_back({LayerTensor(l, "attn_output.weight"), {dim, dim}, kMatrix});
    specs.push_back({LayerTensor(l, "ffn_norm.weight"), {dim}, kNorm});
    specs.push_back({LayerTensor(l, "ffn_gate.weight"), {dim, hidden}, kMatrix});
    specs.push_back({LayerTensor(l, "ffn_up.weight"), {dim, hidden}, kMatrix});
    specs.push_back({LayerTensor(l, "ffn_down.weight"), {hidden, dim}, kMatrix});
  }
  specs.push_back({"output_norm.weight", {dim}, kNorm});
  if (!config.shared_classifier) specs.push_back({"output.weight", {dim, vocab}, kMatrix});
  return specs;
}

std::vector<TensorSpec> Gpt2TensorSpecs(const Gpt2Config& config) {
  const uint64_t dim = config.dim, hidden = config.hidden_dim, vocab = config.vocab_size;
  const uint64_t positions = config.context_length;
  const TensorRole kMatrix = TensorRole::kMatrix, kNorm = TensorRole::kNormWeight,
                   kBias = TensorRole::kBias;

  std::vector<TensorSpec> specs;
  specs.push_back({"token_embd.weight", {dim, vocab}, kMatrix});
  specs.push_back({"position_embd.weight", {dim, positions}, kMatrix});
  for (int l = 0; l < config.n_layers; ++l) {
    specs.push_back({LayerTensor(l, "attn_norm.weight"), {dim}, kNorm});
    specs.push_back({LayerTensor(l, "attn_norm.bias"), {dim}, kBias});
    specs.push_back({LayerTensor(l, "attn_qkv.weight"), {dim, 3 * dim}, kMatrix});
    specs.push_back({LayerTensor(l, "attn_qkv.bias"), {3 * dim}, kBias});
    specs.push_back({LayerTensor(l, "attn_output.weight"), {dim, dim}, kMatrix});
    specs.push_back({LayerTensor(l, "attn_output.bias"), {dim}, kBias});
    specs.push_back({LayerTensor(l, "ffn_norm.weight"), {dim}, kNorm});
    specs.push_back({LayerTensor(l, "ffn_norm.bias"), {dim}, kBias});
    specs.push_back({LayerTensor(l, "ffn_up.weight"), {dim, hidden}, kMatrix});
    specs.push_back({LayerTensor(l, "ffn_up.bias"), {hidden}, kBias});
    specs.push_back({LayerTensor(l, "ffn_down.weight"), {hidden, dim}, kMatrix});
    specs.push_back({LayerTensor(l, "ffn_down.bias"), {dim}, kBias});
  }
  specs.push_back({"output_norm.weight", {dim}, kNorm});
  specs.push_back({"output_norm.bias", {dim}, kBias});
  if (!config.shared_classifier) specs.push_back({"output.weight", {dim, vocab}, kMatrix});
  return specs;
}

absl::StatusOr<GgufTensorType> ParseTensorType(absl::string_view name) {
  if (name == "f32") return GgufTensorType::kF32;
  if (name == "f16") return GgufTensorType::kF16;
  if (name == "bf16") return GgufTensorType::kBF16;
  return absl::InvalidArgumentError(
      absl::StrCat("tensor type \"", name, "\" is not supported, expected f32, f16 or bf16"));
}

absl::Status AddModelTensor(GgufWriter& writer, const TensorSpec& spec, GgufTensorType matrix_type,
                            absl::Span<const float> values) {
  const GgufTensorType type = spec.role == TensorRole::kMatrix ? matrix_type : GgufTensorType::kF32;
  return writer.AddTensor(spec.name, spec.dims, type, values);
}

void SetLlamaHyperparameters(GgufWriter& writer, const LlamaConfig& config,
                             absl::string_view model_name) {
  writer.SetString("general.architecture", "llama");
  writer.SetString("general.name", model_name);
  writer.SetUint32("llama.context_length", config.context_length);
  writer.SetUint32("llama.embedding_length", config.dim);
  writer.SetUint32("llama.feed_forward_length", config.hidden_dim);
  writer.SetUint32("llama.block_count", config.n_layers);
  writer.SetUint32("llama.attention.head_count", config.n_heads);
  writer.SetUint32("llama.attention.head_count_kv", config.n_kv_heads);
  writer.SetUint32("llama.rope.dimension_count", config.head_dim());
  writer.SetFloat32("llama.attention.layer_norm_rms_epsilon", config.rms_norm_epsilon);
  writer.SetFloat32("llama.rope.freq_base", config.rope_freq_base);
}

void SetGpt2Hyperparameters(GgufWriter& writer, const Gpt2Config& config,
                            absl::string_view model_name) {
  writer.SetString("general.architecture", "gpt2");
  writer.SetString("general.name", model_name);
  writer.SetUint32("gpt2.context_length", config.context_length);
  writer.SetUint32("gpt2.embedding_length", config.dim);
  writer.SetUint32("gpt2.feed_forward_length", config.hidden_dim);
  writer.SetUint32("gpt2.block_count", config.n_layers);
  writer.SetUint32("gpt2.attention.head_count", config.n_heads);
  writer.SetFloat32("gpt2.attention.layer_norm_epsilon", config.layer_norm_epsilon);
}

void SetFileType(GgufWriter& writer, GgufTensorType matrix_type) {
  uint32_t file_type = 0;
  switch (matrix_type) {
    case GgufTensorType::kF32:
      file_type = 0;
      break;
    case GgufTensorType::kF16:
      file_type = 1;
      break;
    case GgufTensorType::kBF16:
      file_type = 32;
      break;
  }
  writer.SetUint32("general.file_type", file_type);
}

}  // namespace textgen
