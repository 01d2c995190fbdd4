#ifndef TEXTGEN_ENGINE_GENERATE_STOP_MATCHER_H_
#define TEXTGEN_ENGINE_GENERATE_STOP_MATCHER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace textgen {

// Finds the first occurrence of any stop string in generated text that
// arrives piece by piece, and decides which text may be sent to the client.
//
// The released text is append-only and never revised. The text that could
// still be the start of a stop string (the longest end of the unreleased
// text that is a proper prefix of some stop string) is held back until it
// can no longer match. So a stream never shows part of a stop string, and the
// concatenated released text equals what one call with the whole text would
// release, however the text is split into pieces.
//
// The first occurrence is the one that ends first in the text, and of those
// that end at the same byte the longest. Matching is byte by byte. Because
// pieces arrive as whole UTF-8 characters and a valid UTF-8 stop string
// starts and ends at character boundaries, an occurrence and the held-back
// text both start at character boundaries, and the released text stays
// valid UTF-8.
class StopMatcher {
 public:
  // Empty strings in `stops` never match. With `include_stop_in_output`,
  // the released text ends with the matched stop string; otherwise it ends
  // right before it.
  StopMatcher(std::vector<std::string> stops, bool include_stop_in_output);

  // Appends `piece` to the generated text and returns the text that can be
  // released now, possibly empty. With `match_stops` false, an occurrence
  // that ends inside `piece` is ignored, but an occurrence that starts in it
  // and ends in a later piece still counts. After a match, everything after
  // the match is dropped and later calls return "".
  std::string Add(std::string_view piece, bool match_stops = true);

  // Returns the held-back text at the end of generation, or "" after a
  // match.
  std::string Flush();

  bool matched() const { return matched_; }
  // The stop string that matched, or "" before a match.
  const std::string& matched_stop() const { return matched_stop_; }

 private:
  // A stop string found in held_.
  struct Occurrence {
    size_t stop_index = 0;
    size_t start = 0;  // byte offset in held_
    size_t end = 0;    // one past the last byte
  };

  // Returns the first occurrence that ends after byte `searched_end` of
  // held_, or nothing.
  std::optional<Occurrence> FindFirstOccurrence(size_t searched_end) const;

  // Returns the offset in held_ from which text could still become a stop
  // string, or held_.size() when none can.
  size_t HoldBackStart() const;

  // Removes the first `count` bytes of held_ and returns them.
  std::string TakeHeld(size_t count);

  std::vector<std::string> stops_;
  bool include_stop_in_output_;
  size_t max_stop_size_ = 0;
  // Generated text not released yet. Any occurrence still to come starts
  // inside it.
  std::string held_;
  bool matched_ = false;
  std::string matched_stop_;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_GENERATE_STOP_MATCHER_H_
