#ifndef TEXTGEN_SERVER_TOKENIZATION_H_
#define TEXTGEN_SERVER_TOKENIZATION_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"
#include "textgen/v1/textgen.pb.h"

namespace textgen {

// Size limits of the Tokenize and Detokenize RPCs. A response must fit
// gRPC's default 4 MiB receive limit of clients. At worst every text byte is
// one token, which takes about 6 bytes of the response: an id of up to 3
// varint bytes, and a piece field of 2 bytes plus the byte itself.
inline constexpr size_t kMaxTokenizeTextBytes = 256 * 1024;
// NOTE: This many ids of 64 bytes or more each make a response above the
// client's limit; typical tokens are a few bytes long.
inline constexpr int kMaxDetokenizeTokenIds = 65536;

// Returns the token ids of `request.text` and each token's own bytes. With
// add_special_tokens, the ids start with BOS when `add_bos` is true, as a
// Generate prompt does. INVALID_ARGUMENT when the text is too long.
absl::StatusOr<v1::TokenizeResponse> Tokenize(const v1::TokenizeRequest& request,
                                              const Tokenizer& tokenizer, bool add_bos);

// Returns the text of `request.token_ids`, decoded as Generate decodes
// generated tokens, with U+FFFD for bytes that are not valid UTF-8.
// INVALID_ARGUMENT, naming token_ids[i], for an id outside the vocabulary,
// or when there are too many ids.
absl::StatusOr<v1::DetokenizeResponse> Detokenize(const v1::DetokenizeRequest& request,
                                                  const Tokenizer& tokenizer);

}  // namespace textgen

#endif  // TEXTGEN_SERVER_TOKENIZATION_H_
