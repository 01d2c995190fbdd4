#include "engine/tokenizer/byte_level_bpe.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "engine/tokenizer/unicode_tables.h"
#include "engine/util/status_macros.h"

namespace textgen {
namespace {

// GPT-2's byte-to-unicode alphabet (bytes_to_unicode() in OpenAI's
// encoder.py) gives every byte a printable character, so that tokens never
// contain whitespace or control characters. The 188 bytes '!'..'~',
// 0xA1..0xAC and 0xAE..0xFF map to the code points of the same value. The
// other 68 bytes map, in byte order, to U+0100 onwards, so that the space 0x20
// becomes U+0120 'Ġ'.
constexpr bool IsSelfMappedByte(int byte) {
  return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

constexpr int kAlphabetEnd = 0x100 + 68;  // one past the highest code point of the alphabet

struct ByteAlphabet {
  std::array<char32_t, 256> code_point_of_byte;
  std::array<int16_t, kAlphabetEnd> byte_of_code_point;  // -1 where no byte maps
};

constexpr ByteAlphabet MakeByteAlphabet() {
  ByteAlphabet alphabet{};
  alphabet.byte_of_code_point.fill(-1);
  char32_t next_shifted = 0x100;
  for (int byte = 0; byte < 256; ++byte) {
    char32_t code_point = IsSelfMappedByte(byte) ? static_cast<char32_t>(byte) : next_shifted++;
    alphabet.code_point_of_byte[byte] = code_point;
    alphabet.byte_of_code_point[code_point] = static_cast<int16_t>(byte);
  }
  return alphabet;
}

constexpr ByteAlphabet kByteAlphabet = MakeByteAlphabet();
static_assert(kByteAlphabet.code_point_of_byte[' '] == 0x120, "space must map to U+0120");
static_assert(kByteAlphabet.code_point_of_byte[0xAD] == kAlphabetEnd - 1,
              "the soft hyphen 0xAD is the last shifted byte");

// Marks a byte that does not start a valid UTF-8 character.
constexpr char32_t kInvalidCodePoint = 0xFFFFFFFF;

struct DecodedCharacter {
  char32_t code_point;  // kInvalidCodePoint for an invalid byte
  size_t length;        // in bytes, 1 for an invalid byte
};

// Decodes the UTF-8 character that starts at `text[offset]`, strictly as
// Unicode defines UTF-8: no overlong forms, no surrogates U+D800..U+DFFF and
// nothing above U+10FFFF. A byte that does not start such a character decodes
// alone as kInvalidCodePoint, and decoding resumes at the next byte.
DecodedCharacter DecodeUtf8(std::string_view text, size_t offset) {
  constexpr DecodedCharacter kInvalid = {kInvalidCodePoint, 1};
  const unsigned char lead = static_cast<unsigned char>(text[offset]);
  if (lead < 0x80) return {lead, 1};

  size_t length = 0;
  char32_t code_point = 0;
  // The range of the second byte, narrowed for the leads where the full
  // range 0x80..0xBF would allow an overlong form, a surrogate or a value
  // above U+10FFFF.
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0F;
    if (lead == 0xE0) second_min = 0xA0;
    if (lead == 0xED) second_max = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07;
    if (lead == 0xF0) second_min = 0x90;
    if (lead == 0xF4) second_max = 0x8F;
  } else {
    return kInvalid;
  }
  if (text.size() - offset < length) return kInvalid;

  for (size_t i = 1; i < length; ++i) {
    const unsigned char byte = static_cast<unsigned char>(text[offset + i]);
    const unsigned char min = i == 1 ? second_min : 0x80;
    const unsigned char max = i == 1 ? second_max : 0xBF;
    if (byte < min || byte > max) return kInvalid;
    code_point = (code_point << 6) | (byte & 0x3F);
  }
  return {code_point, length};
}

void AppendUtf8(char32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Returns the token string of the single byte `byte`: its alphabet character
// in UTF-8.
std::string ByteAlphabetString(int byte) {
  std::string text;
  AppendUtf8(kByteAlphabet.code_point_of_byte[byte], text);
  return text;
}

bool IsValidUtf8(std::string_view text) {
  size_t offset = 0;
  while (offset < text.size()) {
    const DecodedCharacter character = DecodeUtf8(text, offset);
    if (character.code_point == kInvalidCodePoint) return false;
    offset += character.length;
  }
  return true;
}

// Quotes a token for an error message with C escapes. Valid UTF-8 keeps its
// non-ASCII characters readable, so the message stays valid UTF-8 either way.
std::string Quote(std::string_view token) {
  const absl::string_view view(token.data(), token.size());
  const std::string escaped =
      IsValidUtf8(token) ? absl::Utf8SafeCEscape(view) : absl::CEscape(view);
  return absl::StrCat("\"", escaped, "\"");
}

// Returns the raw bytes that the byte-alphabet string `token` encodes, or
// an error that names `id` and the first character outside the alphabet.
absl::StatusOr<std::string> DecodeByteAlphabet(int32_t id, std::string_view token) {
  std::string bytes;
  bytes.reserve(token.size());
  size_t offset = 0;
  while (offset < token.size()) {
    const DecodedCharacter character = DecodeUtf8(token, offset);
    if (character.code_point == kInvalidCodePoint) {
      return absl::InvalidArgumentError(
          absl::StrFormat("token %d %s has invalid UTF-8 at byte %d; expected characters of "
                          "GPT-2's byte-to-unicode alphabet",
                          id, Quote(token), offset));
    }
    const int byte = character.code_point < kAlphabetEnd
                         ? kByteAlphabet.byte_of_code_point[character.code_point]
                         : -1;
    if (byte < 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "token %d %s contains U+%04X at byte %d, which is not in GPT-2's byte-to-unicode "
          "alphabet; only control (3) and user-defined (4) tokens may contain it",
          id, Quote(token), static_cast<uint32_t>(character.code_point), offset));
    }
    bytes.push_back(static_cast<char>(byte));
    offset += character.length;
  }
  return bytes;
}

enum class CharacterClass : uint8_t { kLetter, kNumber, kWhitespace, kOther };

struct Character {
  size_t begin;  // byte offset in the text
  char32_t code_point;
  CharacterClass character_class;
};

CharacterClass Classify(char32_t code_point) {
  if (code_point == kInvalidCodePoint) return CharacterClass::kOther;
  if (IsLetter(code_point)) return CharacterClass::kLetter;
  if (IsNumber(code_point)) return CharacterClass::kNumber;
  if (IsWhitespace(code_point)) return CharacterClass::kWhitespace;
  return CharacterClass::kOther;
}

std::vector<Character> DecodeCharacters(std::string_view text) {
  std::vector<Character> characters;
  characters.reserve(text.size());
  size_t offset = 0;
  while (offset < text.size()) {
    const DecodedCharacter decoded = DecodeUtf8(text, offset);
    characters.push_back({offset, decoded.code_point, Classify(decoded.code_point)});
    offset += decoded.length;
  }
  return characters;
}

// Returns the end of the contraction 's, 't, 're, 've, 'm, 'll or 'd (lower
// case only) that starts at `characters[start]`, or `start` when none does.
size_t MatchContraction(const std::vector<Character>& characters, size_t start) {
  if (characters[start].code_point != '\'') return start;
  const auto code_point_at = [&](size_t i) {
    return i < characters.size() ? characters[i].code_point : kInvalidCodePoint;
  };
  const char32_t first = code_point_at(start + 1);
  if (first == 's' || first == 't' || first == 'm' || first == 'd') return start + 2;
  const char32_t second = code_point_at(start + 2);
  if ((first == 'r' && second == 'e') || (first == 'v' && second == 'e') ||
      (first == 'l' && second == 'l')) {
    return start + 3;
  }
  return start;
}

// Returns the end of the pre-token that starts at `characters[start]`: the
// first alternative of the GPT-2 pattern that matches there, as a
// backtracking regex engine picks it.
size_t MatchPreToken(const std::vector<Character>& characters, size_t start) {
  const size_t count = characters.size();
  const size_t contraction_end = MatchContraction(characters, start);
  if (contraction_end > start) return contraction_end;

  // ` ?\p{L}+`, ` ?\p{N}+` and ` ?[^\s\p{L}\p{N}]+`: an optional U+0020,
  // then a run of letters, of numbers or of other characters. The three
  // classes do not overlap, so at most one alternative matches. The space
  // joins the run only when a non-whitespace character follows it.
  size_t run_start = start;
  if (characters[start].code_point == ' ' && start + 1 < count &&
      characters[start + 1].character_class != CharacterClass::kWhitespace) {
    run_start = start + 1;
  }
  const CharacterClass run_class = characters[run_start].character_class;
  if (run_class != CharacterClass::kWhitespace) {
    size_t end = run_start + 1;
    while (end < count && characters[end].character_class == run_class) ++end;
    return end;
  }

  // `\s+(?!\S)`: the whitespace run, backtracked by one character when
  // something other than whitespace follows, so the last whitespace character
  // can start the next pre-token (" world" keeps its space). A lone
  // whitespace character before such a character fails that alternative and
  // matches the final `\s+` alone.
  size_t end = start + 1;
  while (end < count && characters[end].character_class == CharacterClass::kWhitespace) ++end;
  if (end == count || end - start == 1) return end;
  return end - 1;
}

// One symbol of a pre-token being merged, as a node of a doubly linked list
// over the byte positions. A merge keeps the left node and unlinks the right
// one, so live nodes stay in text order.
struct Symbol {
  int32_t id;  // -1 once merged into its left neighbor
  size_t prev;
  size_t next;
};

constexpr size_t kNoSymbol = std::numeric_limits<size_t>::max();

// A possible merge of the adjacent live symbols at `left` and `right`. It is
// stale once either symbol changed: a merge always changes the left id,
// because the merged token is longer, and sets the right id to -1.
struct MergeCandidate {
  int32_t rank;
  int32_t left_id;
  int32_t right_id;
  int32_t merged_id;
  size_t left;
  size_t right;
};

// Returns whether `a` comes after `b` in the heap, whose top is the lowest
// rank and, among equal ranks, the leftmost pair.
bool LowerPriority(const MergeCandidate& a, const MergeCandidate& b) {
  if (a.rank != b.rank) return a.rank > b.rank;
  return a.left > b.left;
}

}  // namespace

std::vector<std::string_view> SplitGpt2PreTokens(std::string_view text) {
  const std::vector<Character> characters = DecodeCharacters(text);
  std::vector<std::string_view> pre_tokens;
  size_t start = 0;
  while (start < characters.size()) {
    const size_t end = MatchPreToken(characters, start);
    const size_t begin_byte = characters[start].begin;
    const size_t end_byte = end < characters.size() ? characters[end].begin : text.size();
    pre_tokens.push_back(text.substr(begin_byte, end_byte - begin_byte));
    start = end;
  }
  return pre_tokens;
}

absl::StatusOr<ByteLevelBpe> ByteLevelBpe::Create(ByteLevelBpeVocabulary vocabulary) {
  const size_t size = vocabulary.tokens.size();
  if (size > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocabulary has ", size, " tokens; at most 2^31 - 1 token ids fit int32"));
  }
  if (vocabulary.merges.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError(absl::StrCat("vocabulary has ", vocabulary.merges.size(),
                                                   " merges; at most 2^31 - 1 ranks fit int32"));
  }
  if (!vocabulary.token_types.empty() && vocabulary.token_types.size() != size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vocabulary has ", size, " tokens but ", vocabulary.token_types.size(),
        " token types; expected one type per token, or none when all tokens are normal"));
  }
  for (size_t id = 0; id < vocabulary.token_types.size(); ++id) {
    const int32_t type = vocabulary.token_types[id];
    if (type < 0 || type > 6) {
      return absl::InvalidArgumentError(absl::StrCat("token ", id, " ",
                                                     Quote(vocabulary.tokens[id]), " has type ",
                                                     type, "; expected a GGUF token type 0 to 6"));
    }
  }
  const auto check_special_id = [size](const char* name, int32_t id) {
    if (id >= 0 && static_cast<size_t>(id) < size) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(name, " id ", id,
                                                   " is outside the vocabulary of ", size,
                                                   " tokens (ids 0 to vocab_size - 1)"));
  };
  RETURN_IF_ERROR(check_special_id("BOS", vocabulary.bos_id));
  RETURN_IF_ERROR(check_special_id("EOS", vocabulary.eos_id));

  ByteLevelBpe tokenizer;
  tokenizer.bos_id_ = vocabulary.bos_id;
  tokenizer.eos_id_ = vocabulary.eos_id;

  // The views point into vocabulary.tokens, which outlives the map. Debian's
  // Abseil 20220623 has its own absl::string_view, which std::string_view does
  // not convert to implicitly.
  absl::flat_hash_map<absl::string_view, int32_t> id_of_token;
  id_of_token.reserve(size);
  tokenizer.token_bytes_.reserve(size);
  for (size_t index = 0; index < size; ++index) {
    const int32_t id = static_cast<int32_t>(index);
    const std::string& token = vocabulary.tokens[index];
    auto [it, inserted] = id_of_token.try_emplace(token, id);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("token ", id, " ", Quote(token),
                                                     " repeats token ", it->second,
                                                     "; expected unique tokens"));
    }

    const int32_t type = vocabulary.token_types.empty() ? 1 : vocabulary.token_types[index];
    if (type == kTokenTypeControl) {
      tokenizer.token_bytes_.emplace_back();
    } else if (type == kTokenTypeUserDefined) {
      tokenizer.token_bytes_.push_back(token);
    } else {
      ASSIGN_OR_RETURN(std::string bytes, DecodeByteAlphabet(id, token));
      tokenizer.token_bytes_.push_back(std::move(bytes));
    }
  }

  for (int byte = 0; byte < 256; ++byte) {
    const std::string token = ByteAlphabetString(byte);
    auto it = id_of_token.find(token);
    if (it == id_of_token.end()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "vocabulary has no token %s for byte 0x%02X; byte-level BPE needs one token for each "
          "of the 256 bytes",
          Quote(token), byte));
    }
    // A control or user-defined token does not decode through the alphabet.
    const std::string& bytes = tokenizer.token_bytes_[it->second];
    if (bytes != std::string(1, static_cast<char>(byte))) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "token %d %s of byte 0x%02X decodes to %s because of its token type; expected a normal "
          "token that decodes to that byte",
          it->second, Quote(token), byte, Quote(bytes)));
    }
    tokenizer.byte_token_[byte] = it->second;
  }

  tokenizer.merges_.reserve(vocabulary.merges.size());
  std::string merged;
  for (size_t index = 0; index < vocabulary.merges.size(); ++index) {
    const int32_t rank = static_cast<int32_t>(index);
    const std::string_view merge = vocabulary.merges[index];
    const size_t space = merge.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == merge.size() ||
        merge.find(' ', space + 1) != std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("merge ", rank, " ", Quote(merge),
                       " is not two tokens separated by one space, as in \"Ġ t\""));
    }
    const std::string_view left = merge.substr(0, space);
    const std::string_view right = merge.substr(space + 1);
    int32_t part_ids[2];
    for (int part = 0; part < 2; ++part) {
      const std::string_view part_token = part == 0 ? left : right;
      auto it = id_of_token.find(absl::string_view(part_token.data(), part_token.size()));
      if (it == id_of_token.end()) {
        return absl::InvalidArgumentError(absl::StrCat("merge ", rank, " ", Quote(merge), " names ",
                                                       Quote(part_token),
                                                       ", which is not a token"));
      }
      part_ids[part] = it->second;
    }
    merged.assign(left).append(right);
    auto merged_it = id_of_token.find(merged);
    if (merged_it == id_of_token.end()) {
      return absl::InvalidArgumentError(absl::StrCat("merge ", rank, " ", Quote(merge), " makes ",
                                                     Quote(merged), ", which is not a token"));
    }

    const uint64_t key =
        (static_cast<uint64_t>(part_ids[0]) << 32) | static_cast<uint32_t>(part_ids[1]);
    auto [it, inserted] = tokenizer.merges_.try_emplace(key, Merge{rank, merged_it->second});
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("merge ", rank, " ", Quote(merge),
                                                     " repeats merge ", it->second.rank,
                                                     "; expected unique merges"));
    }
  }
  return tokenizer;
}

std::vector<int32_t> ByteLevelBpe::Encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 2 + 1);
  if (add_bos) ids.push_back(bos_id_);
  for (std::string_view pre_token : SplitGpt2PreTokens(text)) AppendPreTokenIds(pre_token, ids);
  return ids;
}

const ByteLevelBpe::Merge* ByteLevelBpe::FindMerge(int32_t left, int32_t right) const {
  const uint64_t key = (static_cast<uint64_t>(left) << 32) | static_cast<uint32_t>(right);
  auto it = merges_.find(key);
  return it == merges_.end() ? nullptr : &it->second;
}

// Merges in the order of GPT-2's bpe(): repeatedly the adjacent pair with the
// lowest rank, and of equal pairs the leftmost first. A heap with lazy
// deletion of stale candidates takes O(n log n) where rescanning all pairs
// after each merge would take O(n^2).
// NOTE: GPT-2's bpe() merges every occurrence of the best pair before it
// looks at the pairs those merges create. This code may merge a new pair
// first when its rank is lower. Merges learned by BPE training never do that,
// because a merge that uses a token ranks after the merge that made it.
void ByteLevelBpe::AppendPreTokenIds(std::string_view pre_token, std::vector<int32_t>& ids) const {
  const size_t count = pre_token.size();
  if (count == 0) return;
  if (count == 1) {
    ids.push_back(byte_token_[static_cast<unsigned char>(pre_token[0])]);
    return;
  }

  std::vector<Symbol> symbols(count);
  for (size_t i = 0; i < count; ++i) {
    symbols[i] = {byte_token_[static_cast<unsigned char>(pre_token[i])], i == 0 ? kNoSymbol : i - 1,
                  i + 1 < count ? i + 1 : kNoSymbol};
  }

  std::vector<MergeCandidate> heap;
  heap.reserve(count);
  auto push_candidate = [&](size_t left, size_t right) {
    if (left == kNoSymbol || right == kNoSymbol) return;
    const Merge* merge = FindMerge(symbols[left].id, symbols[right].id);
    if (merge == nullptr) return;
    heap.push_back(
        {merge->rank, symbols[left].id, symbols[right].id, merge->merged_id, left, right});
    std::push_heap(heap.begin(), heap.end(), LowerPriority);
  };

  for (size_t i = 0; i + 1 < count; ++i) push_candidate(i, i + 1);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), LowerPriority);
    const MergeCandidate candidate = heap.back();
    heap.pop_back();
    Symbol& left = symbols[candidate.left];
    Symbol& right = symbols[candidate.right];
    if (left.id != candidate.left_id || right.id != candidate.right_id ||
        left.next != candidate.right) {
      continue;  // stale: one side merged since this candidate was pushed
    }

    left.id = candidate.merged_id;
    left.next = right.next;
    if (right.next != kNoSymbol) symbols[right.next].prev = candidate.left;
    right.id = -1;

    push_candidate(left.prev, candidate.left);
    push_candidate(candidate.left, left.next);
  }

  for (size_t i = 0; i != kNoSymbol; i = symbols[i].next) ids.push_back(symbols[i].id);
}

std::string ByteLevelBpe::TokenBytes(int32_t /*previous_token*/, int32_t token) const {
  if (token < 0 || token >= vocab_size()) return "";
  return token_bytes_[token];
}

}  // namespace textgen
