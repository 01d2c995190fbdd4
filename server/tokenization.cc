#include "server/tokenization.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/incremental_detokenizer.h"

namespace textgen {

absl::StatusOr<v1::TokenizeResponse> Tokenize(const v1::TokenizeRequest& request,
                                              const Tokenizer& tokenizer, bool add_bos) {
  if (request.text().size() > kMaxTokenizeTextBytes) {
    return absl::InvalidArgumentError(absl::StrCat("text is ", request.text().size(),
                                                   " bytes long, expected at most ",
                                                   kMaxTokenizeTextBytes));
  }

  const std::vector<int32_t> ids =
      tokenizer.Encode(request.text(), request.add_special_tokens() && add_bos);
  v1::TokenizeResponse response;
  response.mutable_token_ids()->Reserve(static_cast<int>(ids.size()));
  for (int32_t id : ids) {
    response.add_token_ids(id);
    // Previous token -1 gives the token's own bytes, whatever precedes it.
    response.add_pieces(tokenizer.TokenBytes(-1, id));
  }
  return response;
}

absl::StatusOr<v1::DetokenizeResponse> Detokenize(const v1::DetokenizeRequest& request,
                                                  const Tokenizer& tokenizer) {
  if (request.token_ids_size() > kMaxDetokenizeTokenIds) {
    return absl::InvalidArgumentError(absl::StrCat("token_ids has ", request.token_ids_size(),
                                                   " ids, expected at most ",
                                                   kMaxDetokenizeTokenIds));
  }
  const int32_t vocab_size = tokenizer.vocab_size();
  for (int i = 0; i < request.token_ids_size(); ++i) {
    const int32_t id = request.token_ids(i);
    if (id < 0 || id >= vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("token_ids[", i, "] is ", id,
                                                     ", expected a token id in [0, ", vocab_size,
                                                     ")"));
    }
  }

  // The detokenizer keeps proto3's promise of valid UTF-8 in a string field.
  IncrementalDetokenizer detokenizer(tokenizer, /*previous_token=*/-1);
  std::string text;
  for (int32_t id : request.token_ids()) text += detokenizer.Add(id);
  text += detokenizer.Flush();

  v1::DetokenizeResponse response;
  response.set_text(std::move(text));
  return response;
}

}  // namespace textgen
