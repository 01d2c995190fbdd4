#include "engine/generate/sampler.h"

#include <algorithm>
#include <cmath>

namespace textgen {
namespace {

using Candidate = std::pair<float, int32_t>;  // (probability, token id)

// Most likely first; ties keep the lower token id first, so the order does
// not depend on the sort algorithm.
bool MoreLikely(const Candidate& a, const Candidate& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

float SumOfProbabilities(absl::Span<const Candidate> candidates) {
  float sum = 0.0f;
  for (const auto& candidate : candidates) sum += candidate.first;
  return sum;
}

}  // namespace

int32_t ArgMax(absl::Span<const float> values) {
  // Two vectorizable passes, the maximum and then its first index, instead
  // of one loop whose branch keeps it scalar.
  float max_value = values[0];
#pragma omp simd reduction(max : max_value)
  for (size_t i = 1; i < values.size(); ++i) max_value = std::max(max_value, values[i]);

  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] == max_value) return static_cast<int32_t>(i);
  }
  // Only a NaN among the values can make no value equal the maximum.
  return 0;
}

uint64_t RandomSeed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

Sampler::Sampler(const SamplingParams& params, uint64_t seed)
    : params_(params), processor_(params.adjustments), rng_(seed) {}

int32_t Sampler::Sample(absl::Span<const float> logits, absl::Span<const int32_t> history,
                        TokenLogprob* logprob) {
  const absl::Span<const float> adjusted = processor_.Process(logits, history);
  const int32_t token =
      params_.temperature == 0.0f ? ArgMax(adjusted) : SampleAtTemperature(adjusted);
  if (logprob != nullptr) {
    *logprob = ComputeTokenLogprob(adjusted, params_.temperature, token, params_.top_logprobs);
  }
  return token;
}

int32_t Sampler::SampleAtTemperature(absl::Span<const float> logits) {
  // Probabilities at the temperature, by a softmax that subtracts the maximum.
  const int32_t max_index = ArgMax(logits);
  const float max_logit = logits[max_index];
  candidates_.resize(logits.size());
  float total = 0.0f;
  for (size_t i = 0; i < logits.size(); ++i) {
    float p = std::exp((logits[i] - max_logit) / params_.temperature);
    candidates_[i] = {p, static_cast<int32_t>(i)};
    total += p;
  }
  for (auto& candidate : candidates_) candidate.first /= total;

  // With no cut, every token stays, and drawing over the candidates in
  // token-id order needs no sort of the whole vocabulary.
  const bool top_k_cuts = params_.top_k > 0 && static_cast<size_t>(params_.top_k) < logits.size();
  const bool top_p_cuts = params_.top_p > 0.0f && params_.top_p < 1.0f;
  if (!top_k_cuts && !top_p_cuts && params_.min_p <= 0.0f) {
    return Draw(candidates_, SumOfProbabilities(candidates_));
  }

  // Sort the candidates that can survive, most likely first. top_p refers
  // to the mass of the top_k tokens, or of all tokens when top_k is off.
  size_t kept = candidates_.size();
  float reference_mass = 0.0f;
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < kept) {
    kept = params_.top_k;
    std::partial_sort(candidates_.begin(), candidates_.begin() + kept, candidates_.end(),
                      MoreLikely);
    reference_mass = SumOfProbabilities(absl::MakeConstSpan(candidates_.data(), kept));
  } else if (params_.min_p > 0.0f) {
    // Tokens below the min_p threshold never survive, so only the others
    // need sorting.
    reference_mass = SumOfProbabilities(candidates_);
    const float threshold = params_.min_p * candidates_[max_index].first;
    auto above = std::partition(candidates_.begin(), candidates_.end(),
                                [threshold](const Candidate& c) { return c.first >= threshold; });
    kept = static_cast<size_t>(above - candidates_.begin());
    std::sort(candidates_.begin(), above, MoreLikely);
  } else if (top_p_cuts) {
    reference_mass = SumOfProbabilities(candidates_);
    kept = PartitionNucleus(candidates_[max_index].first, reference_mass);
    std::sort(candidates_.begin(), candidates_.begin() + kept, MoreLikely);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), MoreLikely);
    reference_mass = SumOfProbabilities(candidates_);
  }

  float kept_mass = reference_mass;
  kept = CutToTopP(kept, reference_mass, &kept_mass);
  kept = CutToMinP(kept, &kept_mass);
  return Draw(absl::MakeConstSpan(candidates_.data(), kept), kept_mass);
}

// Moves to the front the tokens at or above a probability threshold whose
// mass already reaches top_p of `reference_mass`, and returns their count.
// The nucleus lies among them, because every other token is less likely
// than each of them, so only they need sorting. The threshold starts at
// `max_probability` and falls by a factor of 4 per pass, and each pass
// scans only the tokens still below it.
size_t Sampler::PartitionNucleus(float max_probability, float reference_mass) {
  const float target = params_.top_p * reference_mass;
  auto above = candidates_.begin();
  float mass = 0.0f;
  for (float threshold = max_probability; threshold > 0.0f; threshold *= 0.25f) {
    auto next = std::partition(above, candidates_.end(),
                               [threshold](const Candidate& c) { return c.first >= threshold; });
    for (auto it = above; it != next; ++it) mass += it->first;
    above = next;
    if (mass >= target) break;
  }
  return static_cast<size_t>(above - candidates_.begin());
}

// Nucleus: the smallest prefix whose probability reaches top_p times
// `reference_mass`. Keeps all `kept` candidates when none does.
size_t Sampler::CutToTopP(size_t kept, float reference_mass, float* kept_mass) const {
  if (params_.top_p <= 0.0f || params_.top_p >= 1.0f) return kept;
  float cumulative = 0.0f;
  for (size_t i = 0; i < kept; ++i) {
    cumulative += candidates_[i].first;
    if (cumulative >= params_.top_p * reference_mass) {
      *kept_mass = cumulative;
      return i + 1;
    }
  }
  return kept;
}

// Keeps the prefix of sorted candidates whose probability is at least min_p
// times the largest, and stores its mass.
size_t Sampler::CutToMinP(size_t kept, float* kept_mass) const {
  if (params_.min_p <= 0.0f) return kept;
  const float threshold = params_.min_p * candidates_[0].first;
  float mass = 0.0f;
  size_t count = 0;
  while (count < kept && candidates_[count].first >= threshold) mass += candidates_[count++].first;
  *kept_mass = mass;
  return count;
}

int32_t Sampler::Draw(absl::Span<const std::pair<float, int32_t>> candidates, float total) {
  // A uniform draw in [0, total) picks the candidate whose interval it hits.
  const float target = std::uniform_real_distribution<float>(0.0f, total)(rng_);
  float cumulative = 0.0f;
  for (const auto& [probability, token] : candidates) {
    cumulative += probability;
    if (target < cumulative) return token;
  }
  // Rounding can leave the target just above the last interval.
  return candidates.back().second;
}

}  // namespace textgen
