#ifndef TEXTGEN_ENGINE_FORMAT_LLAMA2C_READER_H_
#define TEXTGEN_ENGINE_FORMAT_LLAMA2C_READER_H_

#include <string>

#include "absl/status/statusor.h"
#include "engine/model/llama_weights.h"
#include "engine/tokenizer/sentencepiece_bpe.h"

namespace textgen {

// Reads a llama2.c checkpoint in the legacy format that llama2.c's run.c
// reads: seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
// vocab_size, seq_len), then f32 tensors in run.c's order. A negative
// vocab_size means the classifier is stored after the freq_cis tables
// instead of shared with the token embedding. Every size is checked against
// the file's length.
absl::StatusOr<LlamaWeights> ReadLlama2cCheckpoint(const std::string& path);

// Reads a llama2.c tokenizer file: int32 max_token_length, then for each of
// `vocab_size` tokens a float score, an int32 length and that many bytes.
absl::StatusOr<SentencePieceVocabulary> ReadLlama2cTokenizer(const std::string& path,
                                                            int vocab_size);

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_FORMAT_LLAMA2C_READER_H_
