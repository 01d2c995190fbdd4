#ifndef TEXTGEN_TOOLS_CONVERT_TOKENIZER_METADATA_H_
#define TEXTGEN_TOOLS_CONVERT_TOKENIZER_METADATA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/format/gguf_reader.h"
#include "engine/format/gguf_writer.h"

namespace textgen {

// Token types as llama.cpp's llama_token_type numbers them in
// tokenizer.ggml.token_type.
enum class TokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Returns true for a SentencePiece byte-fallback piece "<0xNN>", NN two hex
// digits.
bool IsBytePiece(absl::string_view piece);

// A vocabulary as the GGUF keys tokenizer.ggml.* store it.
struct TokenizerMetadata {
  // tokenizer.ggml.model: "llama" (SentencePiece BPE) or "gpt2" (byte-level
  // BPE).
  std::string model;
  // tokenizer.ggml.pre, llama.cpp's name of the pre-tokenizer; written when
  // not empty.
  std::string pre;
  std::vector<std::string> tokens;  // in id order
  // [tokens.size()] merge priority of each token, higher merges first.
  // Written when not empty.
  std::vector<float> scores;
  std::vector<TokenType> token_types;  // [tokens.size()]
  // "left right" pairs in priority order; written when not empty.
  std::vector<std::string> merges;
  int32_t bos_id = 0;
  int32_t eos_id = 0;
  std::optional<int32_t> unknown_id;
  std::optional<bool> add_bos;  // tokenizer.ggml.add_bos_token

  // Appends unused tokens "[PAD<id>]" until the vocabulary has `size`
  // tokens, as llama.cpp's convert_hf_to_gguf.py does for a model whose
  // embedding has more rows than its tokenizer has tokens.
  void PadTo(size_t size);

  // Checks that scores and token types have one entry per token and that the
  // special ids are inside the vocabulary. `source` names the input in error
  // messages.
  absl::Status Validate(const std::string& source) const;
};

// Sets the tokenizer.ggml.* keys for `tokenizer`.
void SetTokenizerKeys(GgufWriter& writer, const TokenizerMetadata& tokenizer);

// Copies every metadata key that starts with "tokenizer." from `source`,
// keeping each value and, for scalars, its type. Array elements keep their
// kind: strings stay strings, booleans stay booleans, integers are written as
// int32 (int64 or uint64 when a value does not fit) and floating-point
// numbers as float32, the types llama.cpp writes for tokenizer arrays.
absl::Status CopyTokenizerKeys(const GgufFile& source, GgufWriter& writer);

// Returns the number of tokens in source's tokenizer.ggml.tokens.
absl::StatusOr<int> CountTokens(const GgufFile& source);

}  // namespace textgen

#endif  // TEXTGEN_TOOLS_CONVERT_TOKENIZER_METADATA_H_
