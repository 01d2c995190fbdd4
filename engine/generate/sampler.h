#ifndef TEXTGEN_ENGINE_GENERATE_SAMPLER_H_
#define TEXTGEN_ENGINE_GENERATE_SAMPLER_H_

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "engine/generate/logits_processor.h"
#include "engine/generate/token_logprobs.h"

namespace textgen {

// The parameters that choose the next token from the logits.
struct SamplingParams {
  float temperature = 0.0f;  // 0 means greedy
  int32_t top_k = 0;         // 0 means off
  float top_p = 1.0f;        // 0 or 1 means off
  float min_p = 0.0f;        // 0 means off
  LogitAdjustments adjustments;  // logit_bias and penalties, applied first
  bool logprobs = false;         // whether Sequence reports each token's log-probability
  int32_t top_logprobs = 0;      // alternatives reported with it, 0..kMaxTopLogprobs
};

// Chooses tokens for one request. Each request owns its Sampler, so its
// random draws depend only on its own seed, whatever else is being served.
class Sampler {
 public:
  Sampler(const SamplingParams& params, uint64_t seed);

  // Returns the next token id. First the LogitsProcessor adds logit_bias
  // and applies the penalties over `history` (the prompt followed by the
  // generated tokens). Greedy then returns the first index of the maximum
  // adjusted logit. Otherwise the adjusted logits are divided by the
  // temperature and turned into probabilities by softmax. The candidates
  // are cut to the top_k most likely tokens, then to the smallest set whose
  // probability reaches top_p, then to the tokens whose probability is at
  // least min_p times the largest. One token is drawn from what remains.
  //
  // When `logprob` is not null, stores in it the chosen token's
  // log-probability under the adjusted logits at the temperature (1 for
  // greedy), and the params' top_logprobs most likely tokens.
  int32_t Sample(absl::Span<const float> logits, absl::Span<const int32_t> history = {},
                 TokenLogprob* logprob = nullptr);

 private:
  int32_t SampleAtTemperature(absl::Span<const float> logits);
  size_t PartitionNucleus(float max_probability, float reference_mass);
  size_t CutToTopP(size_t kept, float reference_mass, float* kept_mass) const;
  size_t CutToMinP(size_t kept, float* kept_mass) const;
  int32_t Draw(absl::Span<const std::pair<float, int32_t>> candidates, float total);

  SamplingParams params_;
  LogitsProcessor processor_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // [vocab_size] (probability, token id)
};

// Returns the index of the largest value, the first one on ties.
int32_t ArgMax(absl::Span<const float> values);

// Returns a seed from the operating system's random source.
uint64_t RandomSeed();

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_GENERATE_SAMPLER_H_
