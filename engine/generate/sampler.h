#ifndef TEXTGEN_ENGINE_GENERATE_SAMPLER_H_
#define TEXTGEN_ENGINE_GENERATE_SAMPLER_H_

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "absl/types/span.h"

namespace textgen {

// The parameters that choose the next token from the logits.
struct SamplingParams {
  float temperature = 0.0f;  // 0 means greedy
  int32_t top_k = 0;         // 0 means off
  float top_p = 1.0f;        // 0 or 1 means off
};

// Chooses tokens for one request. Each request owns its Sampler, so its
// random draws depend only on its own seed, whatever else is being served.
class Sampler {
 public:
  Sampler(const SamplingParams& params, uint64_t seed);

  // Returns the next token id. Greedy returns the first index of the maximum
  // logit; otherwise the logits are divided by the temperature, turned into
  // probabilities by softmax, cut to the top_k most likely tokens and then
  // to the smallest set whose probability reaches top_p, and one token is
  // drawn from what remains.
  int32_t Sample(absl::Span<const float> logits);

 private:
  int32_t Draw(absl::Span<const std::pair<float, int32_t>> candidates, float total);

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // [vocab_size] (probability, token id)
};

// Returns the index of the largest value, the first one on ties.
int32_t ArgMax(absl::Span<const float> values);

// Returns a seed from the operating system's random source.
uint64_t RandomSeed();

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_GENERATE_SAMPLER_H_
