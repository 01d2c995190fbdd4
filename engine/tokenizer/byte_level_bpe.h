#ifndef TEXTGEN_ENGINE_TOKENIZER_BYTE_LEVEL_BPE_H_
#define TEXTGEN_ENGINE_TOKENIZER_BYTE_LEVEL_BPE_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"

namespace textgen {

// The tokens and merges of a GPT-2-style byte-level BPE vocabulary, as in
// vocab.json and merges.txt or the GGUF keys tokenizer.ggml.tokens,
// tokenizer.ggml.merges and tokenizer.ggml.token_type.
struct ByteLevelBpeVocabulary {
  // [vocab_size] token strings in GPT-2's byte-to-unicode alphabet, where each
  // character is one byte: "Ġworld" is the bytes " world".
  std::vector<std::string> tokens;
  // Merges in priority order (rank = index), each two tokens separated by one
  // space as in a merges.txt line: "Ġ t".
  std::vector<std::string> merges;
  // [vocab_size] GGUF token types, or empty when all tokens are normal:
  // 0 undefined, 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused,
  // 6 byte.
  std::vector<int32_t> token_types;
  int32_t bos_id = 0;
  int32_t eos_id = 0;
};

// GGUF token types (llama.cpp's llama_token_type) that change decoding.
inline constexpr int32_t kTokenTypeControl = 3;
inline constexpr int32_t kTokenTypeUserDefined = 4;

// Splits `text` into the pieces that GPT-2's pre-tokenizer pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// matches when Python's `regex` module runs it over the decoded text, as
// OpenAI's GPT-2 encoder does. \p{L}, \p{N} and \s use the tables of
// unicode_tables.h. Each byte that is not part of valid UTF-8 counts as one
// character of neither class, like a punctuation mark. The pieces are views
// into `text` and concatenate to it.
std::vector<std::string_view> SplitGpt2PreTokens(std::string_view text);

// GPT-2's byte-level BPE: pre-tokenization by SplitGpt2PreTokens, then each
// piece's bytes become one symbol each and adjacent symbols merge in the order
// of the merge ranks, lowest rank first. Every byte sequence encodes, because
// every byte has a token.
//
// Encode treats special-token text such as "<|endoftext|>" in the input as
// ordinary text, as GPT-2's encoder does by default, so the result never
// contains the special token. A caller that wants EOS appends eos_id() itself.
class ByteLevelBpe : public Tokenizer {
 public:
  // Validates the vocabulary and returns InvalidArgument naming the first
  // problem and its index. The checks:
  // - token_types is empty or has one type from 0 to 6 per token;
  // - no token repeats another;
  // - each token other than control and user-defined ones consists of
  //   byte-alphabet characters, and all 256 single-byte tokens exist;
  // - each merge names two tokens whose concatenation is a token, and no
  //   merge repeats another;
  // - BOS and EOS are inside the vocabulary.
  static absl::StatusOr<ByteLevelBpe> Create(ByteLevelBpeVocabulary vocabulary);

  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override;

  // Returns the raw bytes of `token` through the inverse of the byte alphabet,
  // which may end inside a UTF-8 character. `previous_token` does not matter.
  // A control token (type 3, such as <|endoftext|> in a GGUF vocabulary)
  // returns "" because it marks structure and is not text. A user-defined
  // token (type 4) returns its string as written. An id outside the
  // vocabulary returns "".
  std::string TokenBytes(int32_t previous_token, int32_t token) const override;

  int32_t vocab_size() const override { return static_cast<int32_t>(token_bytes_.size()); }
  int32_t bos_id() const override { return bos_id_; }
  int32_t eos_id() const override { return eos_id_; }

 private:
  // The result of merging one pair of adjacent tokens.
  struct Merge {
    int32_t rank;       // index in ByteLevelBpeVocabulary::merges, lower merges first
    int32_t merged_id;  // the token the pair becomes
  };

  ByteLevelBpe() = default;

  // Appends the ids that BPE gives the bytes of one pre-token.
  void AppendPreTokenIds(std::string_view pre_token, std::vector<int32_t>& ids) const;

  // Returns the merge of the adjacent tokens `left` and `right`, or nullptr.
  const Merge* FindMerge(int32_t left, int32_t right) const;

  std::vector<std::string> token_bytes_;  // [vocab_size] what TokenBytes returns
  // Keyed by the left id in the high 32 bits and the right id in the low ones.
  absl::flat_hash_map<uint64_t, Merge> merges_;
  std::array<int32_t, 256> byte_token_{};  // id of the single-byte token of each byte
  int32_t bos_id_ = 0;
  int32_t eos_id_ = 0;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_TOKENIZER_BYTE_LEVEL_BPE_H_
