#ifndef TEXTGEN_TOOLS_CONVERT_GGUF_TENSOR_LAYOUT_H_
#define TEXTGEN_TOOLS_CONVERT_GGUF_TENSOR_LAYOUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/format/gguf_reader.h"
#include "engine/format/gguf_writer.h"
#include "engine/model/gpt2_weights.h"
#include "engine/model/llama_config.h"

namespace textgen {

// The purpose of a tensor, which decides its random initialization and its
// storage type.
enum class TensorRole {
  kMatrix,      // a weight matrix or an embedding table
  kNormWeight,  // the scale of an RMSNorm or LayerNorm
  kBias,
};

// One tensor of a model as llama.cpp names and shapes it.
struct TensorSpec {
  std::string name;
  // GGUF order: dims[0] is the contiguous dimension, so a row-major
  // [out_features, in_features] matrix has dims {in_features, out_features}.
  std::vector<uint64_t> dims;
  TensorRole role = TensorRole::kMatrix;

  uint64_t ElementCount() const;
};

// Returns the tensors of llama.cpp's "llama" architecture in file order:
// token_embd, then per layer attn_norm, attn_q, attn_k, attn_v, attn_output,
// ffn_norm, ffn_gate, ffn_up, ffn_down, then output_norm and, when the
// classifier is not shared, output.
std::vector<TensorSpec> LlamaTensorSpecs(const LlamaConfig& config);

// Returns the tensors of llama.cpp's "gpt2" architecture in file order:
// token_embd, position_embd, then per layer attn_norm, attn_qkv,
// attn_output, ffn_norm, ffn_up and ffn_down, each a weight and a bias. Then
// come output_norm (weight and bias) and, when the classifier is not shared,
// output.
std::vector<TensorSpec> Gpt2TensorSpecs(const Gpt2Config& config);

// Parses the --type value: "f32", "f16" or "bf16".
absl::StatusOr<GgufTensorType> ParseTensorType(absl::string_view name);

// Adds `values` as the tensor `spec` describes. Matrices are stored as
// `matrix_type`. Norm weights and biases stay F32, as llama.cpp's converters
// keep them, because they are small and the forward pass reads them as f32.
absl::Status AddModelTensor(GgufWriter& writer, const TensorSpec& spec, GgufTensorType matrix_type,
                            absl::Span<const float> values);

// Sets general.architecture "llama", general.name and the llama.*
// hyperparameters that the engine's GGUF reader and llama.cpp read.
void SetLlamaHyperparameters(GgufWriter& writer, const LlamaConfig& config,
                             absl::string_view model_name);

// Sets general.architecture "gpt2", general.name and the gpt2.*
// hyperparameters.
void SetGpt2Hyperparameters(GgufWriter& writer, const Gpt2Config& config,
                            absl::string_view model_name);

// Sets general.file_type to llama.cpp's llama_ftype number for `matrix_type`
// (0 all F32, 1 mostly F16, 32 mostly BF16).
void SetFileType(GgufWriter& writer, GgufTensorType matrix_type);

}  // namespace textgen

#endif  // TEXTGEN_TOOLS_CONVERT_GGUF_TENSOR_LAYOUT_H_
