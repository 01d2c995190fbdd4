#include "engine/tokenizer/sentencepiece_bpe.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <queue>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace textgen {
namespace {

// Maximum bytes in one character group. llama2.c cuts a group here even
// when more continuation bytes follow.
constexpr size_t kMaxCharacterBytes = 4;

constexpr char kHexDigits[] = "0123456789ABCDEF";

bool IsContinuationByte(char byte) { return (static_cast<unsigned char>(byte) & 0xC0) == 0x80; }

// Returns the name SentencePiece gives the byte piece of `byte`: "<0xNN>"
// with uppercase hex digits.
std::string BytePieceName(int byte) {
  return {'<', '0', 'x', kHexDigits[byte >> 4], kHexDigits[byte & 0xF], '>'};
}

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Returns NN for a piece of the form "<0xNN>" (hex digits of either case),
// or -1 for any other piece.
int BytePieceValue(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  int high = HexDigitValue(piece[3]);
  int low = HexDigitValue(piece[4]);
  if (high < 0 || low < 0) return -1;
  return high * 16 + low;
}

// One token of the sequence being merged, as a node of a doubly linked list
// over the positions of the initial tokens. A merge keeps the left node and
// marks the right one dead, so live nodes stay in text order.
struct Symbol {
  int32_t id;  // -1 once merged into its left neighbor
  int prev;    // -1 at the start
  int next;    // -1 at the end
};

// A possible merge of the adjacent live symbols `left` and `right`. It is
// stale once either symbol changed id. A merge always changes the left id,
// because it lengthens the piece, and sets the right id to -1.
struct MergeCandidate {
  float score;
  int left;
  int right;
  int32_t left_id;
  int32_t right_id;
  int32_t merged_id;
};

// Orders candidates so the queue's top has the highest score and, among equal
// scores, the leftmost position. Positions of live symbols keep text order,
// so this picks the same pair as a left-to-right scan that replaces its best
// pair only on a strictly greater score.
struct LowerPriority {
  bool operator()(const MergeCandidate& a, const MergeCandidate& b) const {
    if (a.score != b.score) return a.score < b.score;
    return a.left > b.left;
  }
};

}  // namespace

absl::StatusOr<SentencePieceBpe> SentencePieceBpe::Create(SentencePieceVocabulary vocabulary) {
  const size_t size = vocabulary.pieces.size();
  if (vocabulary.scores.size() != size) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocabulary has ", size, " pieces but ", vocabulary.scores.size(),
                     " scores; expected one score per piece"));
  }
  if (size > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocabulary has ", size, " pieces; at most 2^31 - 1 token ids fit int32"));
  }
  if (vocabulary.bos_id < 0 || static_cast<size_t>(vocabulary.bos_id) >= size) {
    return absl::InvalidArgumentError(absl::StrCat("BOS id ", vocabulary.bos_id,
                                                   " is outside the vocabulary of ", size,
                                                   " pieces (ids 0 to vocab_size - 1)"));
  }
  if (vocabulary.eos_id < 0 || static_cast<size_t>(vocabulary.eos_id) >= size) {
    return absl::InvalidArgumentError(absl::StrCat("EOS id ", vocabulary.eos_id,
                                                   " is outside the vocabulary of ", size,
                                                   " pieces (ids 0 to vocab_size - 1)"));
  }
  // A NaN score compares false with everything, so merges would depend on
  // where it sits in the queue.
  for (size_t id = 0; id < size; ++id) {
    if (std::isnan(vocabulary.scores[id])) {
      return absl::InvalidArgumentError(absl::StrCat("score of token ", id, " (piece \"",
                                                     absl::CEscape(vocabulary.pieces[id]),
                                                     "\") is NaN; expected a number"));
    }
  }

  SentencePieceBpe tokenizer(std::move(vocabulary));
  for (int byte = 0; byte < 256; ++byte) {
    if (tokenizer.byte_token_[byte] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("vocabulary has no byte piece ", BytePieceName(byte),
                       "; byte fallback needs all 256 pieces <0x00> to <0xFF>"));
    }
  }
  return tokenizer;
}

SentencePieceBpe::SentencePieceBpe(SentencePieceVocabulary vocabulary)
    : vocabulary_(std::move(vocabulary)) {
  id_of_piece_.reserve(vocabulary_.pieces.size());
  // try_emplace keeps the first id, so a duplicated piece encodes to its
  // lowest id.
  for (size_t id = 0; id < vocabulary_.pieces.size(); ++id) {
    id_of_piece_.try_emplace(vocabulary_.pieces[id], static_cast<int32_t>(id));
  }
  for (int byte = 0; byte < 256; ++byte) {
    auto it = id_of_piece_.find(BytePieceName(byte));
    byte_token_[byte] = it == id_of_piece_.end() ? -1 : it->second;
  }
}

std::vector<int32_t> SentencePieceBpe::Encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> tokens;
  if (add_bos) tokens.push_back(vocabulary_.bos_id);
  if (text.empty()) return tokens;

  // BOS takes no part in merges. llama2.c's run.c scans it too, which only
  // differs for a vocabulary with a piece that starts with BOS's piece, and
  // such a merge would drop the BOS.
  std::vector<int32_t> symbols = SplitCharacters(text);
  MergePairs(symbols);
  tokens.insert(tokens.end(), symbols.begin(), symbols.end());
  return tokens;
}

// Appends the id of the piece `bytes`, or one byte token per byte when no
// piece matches.
void SentencePieceBpe::AppendPieceOrBytes(std::string_view bytes,
                                          std::vector<int32_t>& tokens) const {
  // Debian's Abseil 20220623 has its own absl::string_view, which the map's
  // heterogeneous lookup takes and std::string_view does not convert to.
  auto it = id_of_piece_.find(absl::string_view(bytes.data(), bytes.size()));
  if (it != id_of_piece_.end()) {
    tokens.push_back(it->second);
    return;
  }
  for (char byte : bytes) tokens.push_back(byte_token_[static_cast<unsigned char>(byte)]);
}

std::vector<int32_t> SentencePieceBpe::SplitCharacters(std::string_view text) const {
  std::vector<int32_t> symbols;
  symbols.reserve(text.size() + 1);
  AppendPieceOrBytes(" ", symbols);  // the dummy prefix space

  // A character is a byte plus the continuation bytes (10xxxxxx) after it, up
  // to kMaxCharacterBytes. The first byte is not checked, so a stray
  // continuation byte starts a character of its own.
  size_t start = 0;
  while (start < text.size()) {
    size_t end = start + 1;
    while (end < text.size() && end - start < kMaxCharacterBytes && IsContinuationByte(text[end])) {
      ++end;
    }
    AppendPieceOrBytes(text.substr(start, end - start), symbols);
    start = end;
  }
  return symbols;
}

// Merges pairs in the order of a naive loop that rescans all adjacent pairs
// and merges the one with the highest score (leftmost on ties) until no pair
// forms a piece. A priority queue with lazy deletion of stale candidates
// gives the same merges in O(n log n) instead of O(n^2).
// NOTE: run.c starts its scan from a best score of -1e10, so it never merges
// into a piece that scores -1e10 or lower. This code merges those too.
void SentencePieceBpe::MergePairs(std::vector<int32_t>& tokens) const {
  const int count = static_cast<int>(tokens.size());
  std::vector<Symbol> symbols(count);
  for (int i = 0; i < count; ++i) {
    symbols[i] = {tokens[i], i - 1, i + 1 < count ? i + 1 : -1};
  }

  std::priority_queue<MergeCandidate, std::vector<MergeCandidate>, LowerPriority> queue;
  std::string merged;  // reused buffer for the concatenated pieces
  auto push_candidate = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string& left_piece = vocabulary_.pieces[symbols[left].id];
    const std::string& right_piece = vocabulary_.pieces[symbols[right].id];
    merged.assign(left_piece).append(right_piece);
    auto it = id_of_piece_.find(merged);
    if (it == id_of_piece_.end()) return;
    queue.push({vocabulary_.scores[it->second], left, right, symbols[left].id, symbols[right].id,
                it->second});
  };

  for (int i = 0; i + 1 < count; ++i) push_candidate(i, i + 1);

  while (!queue.empty()) {
    MergeCandidate candidate = queue.top();
    queue.pop();
    Symbol& left = symbols[candidate.left];
    Symbol& right = symbols[candidate.right];
    if (left.id != candidate.left_id || right.id != candidate.right_id ||
        left.next != candidate.right) {
      continue;  // stale: one side merged since this candidate was pushed
    }

    left.id = candidate.merged_id;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = candidate.left;
    right.id = -1;

    push_candidate(left.prev, candidate.left);
    push_candidate(candidate.left, left.next);
  }

  tokens.clear();
  for (int i = count > 0 ? 0 : -1; i >= 0; i = symbols[i].next) tokens.push_back(symbols[i].id);
}

std::string SentencePieceBpe::TokenBytes(int32_t previous_token, int32_t token) const {
  if (token < 0 || token >= vocab_size()) return "";
  std::string_view piece = vocabulary_.pieces[token];

  // SentencePiece marks word starts with a space, and the dummy prefix gives
  // the first word one too. That space is not part of the text.
  if (previous_token == vocabulary_.bos_id && !piece.empty() && piece.front() == ' ') {
    piece.remove_prefix(1);
  }

  int byte = BytePieceValue(piece);
  if (byte >= 0) return std::string(1, static_cast<char>(byte));
  return std::string(piece);
}

}  // namespace textgen
