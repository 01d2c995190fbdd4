#ifndef TEXTGEN_ENGINE_TOKENIZER_SENTENCEPIECE_BPE_H_
#define TEXTGEN_ENGINE_TOKENIZER_SENTENCEPIECE_BPE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"

namespace textgen {

// The pieces of a SentencePiece-style vocabulary, indexed by token id.
struct SentencePieceVocabulary {
  std::vector<std::string> pieces;  // [vocab_size] the bytes of each piece
  std::vector<float> scores;        // [vocab_size] merge priority: higher merges first
  int32_t bos_id = 1;
  int32_t eos_id = 2;
};

// SentencePiece-style BPE as llama2.c and llama.cpp's "llama" tokenizer run
// it: a dummy prefix space, one symbol per UTF-8 character, byte fallback to
// `<0xNN>` pieces for characters with no piece, then repeated merges of the
// adjacent pair whose merged piece has the highest score.
class SentencePieceBpe : public Tokenizer {
 public:
  // Checks the vocabulary: as many scores as pieces, no NaN score, BOS and
  // EOS inside it, and all 256 byte pieces `<0x00>`..`<0xFF>` present.
  static absl::StatusOr<SentencePieceBpe> Create(SentencePieceVocabulary vocabulary);

  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override;

  // A piece that follows BOS loses one leading space; a byte piece `<0xNN>`
  // stands for the byte NN.
  std::string TokenBytes(int32_t previous_token, int32_t token) const override;

  int32_t vocab_size() const override { return static_cast<int32_t>(vocabulary_.pieces.size()); }
  int32_t bos_id() const override { return vocabulary_.bos_id; }
  int32_t eos_id() const override { return vocabulary_.eos_id; }

 private:
  explicit SentencePieceBpe(SentencePieceVocabulary vocabulary);

  // Returns the dummy prefix space and then one symbol per UTF-8 character
  // of the non-empty `text`, or one per byte for a character with no piece.
  std::vector<int32_t> SplitCharacters(std::string_view text) const;
  void AppendPieceOrBytes(std::string_view bytes, std::vector<int32_t>& tokens) const;
  // Replaces `tokens` by the result of all BPE merges.
  void MergePairs(std::vector<int32_t>& tokens) const;

  SentencePieceVocabulary vocabulary_;
  absl::flat_hash_map<std::string, int32_t> id_of_piece_;
  int32_t byte_token_[256];  // id of the piece `<0xNN>` for each byte NN
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_TOKENIZER_SENTENCEPIECE_BPE_H_
