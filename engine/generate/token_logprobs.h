#ifndef TEXTGEN_ENGINE_GENERATE_TOKEN_LOGPROBS_H_
#define TEXTGEN_ENGINE_GENERATE_TOKEN_LOGPROBS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"

namespace textgen {

// The largest number of alternatives a TokenLogprob lists.
inline constexpr int32_t kMaxTopLogprobs = 20;

// One of the most likely tokens at a step.
struct TopLogprob {
  int32_t token_id = 0;
  float logprob = 0.0f;
  std::string piece;  // the bytes the token adds to the text, maybe an incomplete character
};

// The log-probability of a generated token, and the most likely tokens at
// its step, most likely first.
struct TokenLogprob {
  int32_t token_id = 0;
  float logprob = 0.0f;
  std::vector<TopLogprob> top;  // [top_count]
};

// Returns the log-probability of `token` under the distribution of `logits`
// [vocab_size] at `temperature`,
//   logprob[i] = (logits[i] - max) / T - log(sum_j exp((logits[j] - max) / T)),
// with T = 1 when `temperature` is 0, and the `top_count` (at most
// kMaxTopLogprobs) most likely tokens in `top`, ties in token id order.
// Subtracting the maximum keeps exp from overflowing, and the sum is
// accumulated in double. The pieces of `top` are left empty.
TokenLogprob ComputeTokenLogprob(absl::Span<const float> logits, float temperature, int32_t token,
                                 int32_t top_count);

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_GENERATE_TOKEN_LOGPROBS_H_
