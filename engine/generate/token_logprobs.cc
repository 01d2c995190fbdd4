#include "engine/generate/token_logprobs.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace textgen {
namespace {

using Candidate = std::pair<float, int32_t>;  // (logit, token id)

// Orders candidates from most to least likely. Equal logits put the lower
// token id first.
bool MoreLikely(const Candidate& a, const Candidate& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

// Returns the `count` most likely candidates, most likely first, in one pass
// over the vocabulary instead of sorting it. The heap's front is the least
// likely candidate kept so far, the one a more likely token replaces.
std::vector<Candidate> SelectMostLikely(absl::Span<const float> logits, size_t count) {
  std::vector<Candidate> heap;
  heap.reserve(count);
  if (count == 0) return heap;
  for (size_t i = 0; i < logits.size(); ++i) {
    const Candidate candidate{logits[i], static_cast<int32_t>(i)};
    if (heap.size() < count) {
      heap.push_back(candidate);
      std::push_heap(heap.begin(), heap.end(), MoreLikely);
    } else if (MoreLikely(candidate, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), MoreLikely);
      heap.back() = candidate;
      std::push_heap(heap.begin(), heap.end(), MoreLikely);
    }
  }
  std::sort_heap(heap.begin(), heap.end(), MoreLikely);
  return heap;
}

float MaxValue(absl::Span<const float> values) {
  float max_value = values[0];
#pragma omp simd reduction(max : max_value)
  for (size_t i = 1; i < values.size(); ++i) max_value = std::max(max_value, values[i]);
  return max_value;
}

}  // namespace

TokenLogprob ComputeTokenLogprob(absl::Span<const float> logits, float temperature, int32_t token,
                                 int32_t top_count) {
  const double t = temperature > 0.0f ? temperature : 1.0;
  const float max_logit = MaxValue(logits);

  double sum = 0.0;
  for (const float logit : logits) sum += std::exp(static_cast<float>((logit - max_logit) / t));
  const double log_normalizer = std::log(sum);
  auto logprob = [&](int32_t i) {
    return static_cast<float>((static_cast<double>(logits[i]) - max_logit) / t - log_normalizer);
  };

  TokenLogprob result;
  result.token_id = token;
  result.logprob = logprob(token);
  const size_t count = static_cast<size_t>(std::clamp(top_count, 0, kMaxTopLogprobs));
  for (const auto& [logit, id] : SelectMostLikely(logits, std::min(count, logits.size()))) {
    result.top.push_back(TopLogprob{id, logprob(id), {}});
  }
  return result;
}

}  // namespace textgen
