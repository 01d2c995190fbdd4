#include "engine/tokenizer/incremental_detokenizer.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace textgen {
namespace {

constexpr char kReplacementCharacter[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// Returns the length of the well-formed UTF-8 sequence that `lead` starts,
// or 0 when no well-formed sequence starts with it (80..C1 and F5..FF).
size_t SequenceLength(unsigned char lead) {
  if (lead <= 0x7F) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Returns whether `byte` may be at `position` (1 or more) of a sequence that
// starts with `lead`. The narrower ranges of the second byte rule out
// overlong forms (E0, F0), surrogates (ED) and code points above U+10FFFF
// (F4).
bool IsValidByteAt(unsigned char lead, size_t position, unsigned char byte) {
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (position == 1) {
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  }
  return byte >= low && byte <= high;
}

}  // namespace

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, int32_t previous_token)
    : tokenizer_(tokenizer), previous_token_(previous_token) {}

std::string IncrementalDetokenizer::Add(int32_t token) {
  pending_ += tokenizer_.TokenBytes(previous_token_, token);
  previous_token_ = token;

  std::string text;
  size_t start = 0;
  while (start < pending_.size()) {
    const unsigned char lead = static_cast<unsigned char>(pending_[start]);
    const size_t length = SequenceLength(lead);
    if (length == 0) {
      text += kReplacementCharacter;
      ++start;
      continue;
    }

    // `valid` counts the bytes from `start` that are a prefix of a
    // well-formed sequence.
    size_t valid = 1;
    while (valid < length && start + valid < pending_.size() &&
           IsValidByteAt(lead, valid, static_cast<unsigned char>(pending_[start + valid]))) {
      ++valid;
    }

    if (valid == length) {
      text.append(pending_, start, length);
    } else if (start + valid == pending_.size()) {
      break;  // incomplete at the end: later tokens may complete it
    } else {
      // The byte at start + valid cannot continue the sequence, so the
      // valid prefix is a maximal subpart and becomes one U+FFFD. That byte
      // is examined again as a possible lead.
      text += kReplacementCharacter;
    }
    start += valid;
  }

  pending_.erase(0, start);
  return text;
}

std::string IncrementalDetokenizer::Flush() {
  // Add leaves at most one incomplete prefix of a well-formed sequence held,
  // which is one maximal subpart.
  if (pending_.empty()) return "";
  pending_.clear();
  return kReplacementCharacter;
}

}  // namespace textgen
