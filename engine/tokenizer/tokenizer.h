#ifndef TEXTGEN_ENGINE_TOKENIZER_TOKENIZER_H_
#define TEXTGEN_ENGINE_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace textgen {

// Turns text into token ids and token ids back into bytes. Implementations
// are immutable after construction, so one instance serves every request
// from any thread.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Returns the ids of `text`, preceded by the BOS token when `add_bos` is
  // true. Any byte sequence encodes, including invalid UTF-8.
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_bos) const = 0;

  // Returns the bytes that `token` adds to the text when it follows
  // `previous_token` (-1 at the start). The bytes of one token may be an
  // incomplete UTF-8 character; IncrementalDetokenizer joins them.
  virtual std::string TokenBytes(int32_t previous_token, int32_t token) const = 0;

  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;
  virtual int32_t eos_id() const = 0;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_TOKENIZER_TOKENIZER_H_
