#ifndef TEXTGEN_ENGINE_FORMAT_GGUF_MODEL_READER_H_
#define TEXTGEN_ENGINE_FORMAT_GGUF_MODEL_READER_H_

#include "absl/status/statusor.h"
#include "engine/format/gguf_reader.h"
#include "engine/model/gpt2_weights.h"
#include "engine/model/llama_weights.h"
#include "engine/tokenizer/byte_level_bpe.h"
#include "engine/tokenizer/sentencepiece_bpe.h"

namespace textgen {

// Readers of models and vocabularies stored in GGUF under llama.cpp's key and
// tensor names. Every tensor's shape is checked against the hyperparameters
// before it is read.

// general.architecture "llama": llama.* hyperparameters, token_embd,
// blk.N.attn_{norm,q,k,v,output}, blk.N.ffn_{norm,gate,up,down}, output_norm
// and an optional output (absent means tied to token_embd).
absl::StatusOr<LlamaWeights> ReadLlamaWeights(const GgufFile& file);

// general.architecture "gpt2": gpt2.* hyperparameters, token_embd,
// position_embd, blk.N.attn_{norm,qkv,output} and blk.N.ffn_{norm,up,down}
// with biases, output_norm with bias and an optional output.
absl::StatusOr<Gpt2Weights> ReadGpt2Weights(const GgufFile& file);

// tokenizer.ggml.model "llama": pieces, scores and token types. SentencePiece
// marks spaces with U+2581, which becomes a plain space here; control tokens
// (type 3) decode to no text.
absl::StatusOr<SentencePieceVocabulary> ReadSentencePieceVocabulary(const GgufFile& file);

// tokenizer.ggml.model "gpt2": tokens, merges and token types.
absl::StatusOr<ByteLevelBpeVocabulary> ReadByteLevelBpeVocabulary(const GgufFile& file);

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_FORMAT_GGUF_MODEL_READER_H_
