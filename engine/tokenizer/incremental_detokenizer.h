#ifndef TEXTGEN_ENGINE_TOKENIZER_INCREMENTAL_DETOKENIZER_H_
#define TEXTGEN_ENGINE_TOKENIZER_INCREMENTAL_DETOKENIZER_H_

#include <cstdint>
#include <string>

#include "engine/tokenizer/tokenizer.h"

namespace textgen {

// Turns a stream of generated tokens into a stream of valid UTF-8 text that
// is only ever appended to. Bytes that end inside a multi-byte character are
// held until the character completes. A byte sequence that can never become
// a valid character is emitted as U+FFFD, one replacement per maximal invalid
// subpart, as the Unicode standard recommends.
class IncrementalDetokenizer {
 public:
  // `tokenizer` must outlive this object. `previous_token` is the last
  // prompt token (-1 for none): some tokenizers decode a token differently
  // after BOS.
  IncrementalDetokenizer(const Tokenizer& tokenizer, int32_t previous_token);

  // Adds one token and returns the text that is now complete, possibly empty.
  std::string Add(int32_t token);

  // Returns what is still held (an incomplete character at the end of the
  // generation) as U+FFFD, or an empty string.
  std::string Flush();

 private:
  const Tokenizer& tokenizer_;
  int32_t previous_token_;
  std::string pending_;  // bytes of an incomplete UTF-8 character
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_TOKENIZER_INCREMENTAL_DETOKENIZER_H_
