#ifndef TEXTGEN_TOOLS_CONVERT_HF_IMPORT_H_
#define TEXTGEN_TOOLS_CONVERT_HF_IMPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/format/gguf_reader.h"
#include "engine/format/gguf_writer.h"

namespace textgen {

// Builds a GGUF file from a Hugging Face model folder: config.json (see
// ReadHfConfig), one or more *.safetensors files and a tokenizer (see
// ReadHfTokenizer). model_type "gpt2" becomes llama.cpp's "gpt2"
// architecture, with HF's Conv1D weights ([in, out]) transposed to
// [out, in]; "llama" becomes the "llama" architecture, with the q and k
// projections permuted to the adjacent-pair rotary layout (see
// PermuteRotaryRows). Matrices are stored as `matrix_type`, norms and biases
// as F32. Every tensor's shape is checked against config.json, and a tensor
// the converter does not know fails the conversion instead of being
// dropped. general.name is the folder's name.
absl::StatusOr<GgufWriter> ImportHfFolder(const std::string& folder, GgufTensorType matrix_type);

// Returns the transpose of the row-major [rows, cols] matrix `matrix`.
std::vector<float> Transpose(absl::Span<const float> matrix, int64_t rows, int64_t cols);

// Reorders the rows of a row-major q or k projection [n_heads * head_dim,
// cols] from Hugging Face's "rotate half" rotary layout to the adjacent-pair
// layout that the engine and llama.cpp's "llama" architecture use: within
// each head h, row (h, i) goes to (h, 2i) and row (h, head_dim / 2 + i) goes
// to (h, 2i + 1), for i < head_dim / 2.
std::vector<float> PermuteRotaryRows(absl::Span<const float> weight, int n_heads, int head_dim,
                                     int64_t cols);

}  // namespace textgen

#endif  // TEXTGEN_TOOLS_CONVERT_HF_IMPORT_H_
