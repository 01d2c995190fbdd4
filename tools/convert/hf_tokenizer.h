#ifndef TEXTGEN_TOOLS_CONVERT_HF_TOKENIZER_H_
#define TEXTGEN_TOOLS_CONVERT_HF_TOKENIZER_H_

#include <string>

#include "absl/status/statusor.h"
#include "tools/convert/hf_config.h"
#include "tools/convert/tokenizer_metadata.h"

namespace textgen {

// Reads the BPE tokenizer of a Hugging Face model folder as GGUF tokenizer
// metadata. The supported shapes:
//
// - GPT-2 (model_type "gpt2"): byte-level BPE from tokenizer.json (model
//   type BPE with a ByteLevel pre-tokenizer, which applies GPT-2's split
//   pattern) or from vocab.json and merges.txt. Written as
//   tokenizer.ggml.model "gpt2" with the merges. Added special tokens (and
//   <|endoftext|>) are control tokens.
// - Llama (model_type "llama"): SentencePiece-style BPE from tokenizer.json:
//   model type BPE with byte_fallback, spaces written as U+2581 by a
//   Metaspace pre-tokenizer or a Replace normalizer, and all 256 "<0xNN>"
//   byte pieces. Written as tokenizer.ggml.model "llama" with scores derived
//   from the merge ranks.
//
// tokenizer_config.json, when present, supplies add_bos_token and marks
// entries of added_tokens_decoder as special. BOS and EOS come from
// config.json, else from the tokens <|endoftext|> (GPT-2) or <s> and </s>
// (Llama). Anything else, such as Llama 3's byte-level tokenizer, fails with
// an error that lists these supported shapes.
absl::StatusOr<TokenizerMetadata> ReadHfTokenizer(const std::string& folder,
                                                  const HfModelConfig& config);

}  // namespace textgen

#endif  // TEXTGEN_TOOLS_CONVERT_HF_TOKENIZER_H_
