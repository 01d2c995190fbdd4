#include "engine/generate/sampler.h"

#include <algorithm>
#include <cmath>

namespace textgen {

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

Sampler::Sampler(const SamplingParams& params, uint64_t seed) : params_(params), rng_(seed) {}

int32_t Sampler::Sample(absl::Span<const float> logits) {
  if (params_.temperature == 0.0f) return ArgMax(logits);

  // Probabilities at the temperature, by a softmax that subtracts the maximum.
  const float max_logit = logits[ArgMax(logits)];
  candidates_.resize(logits.size());
  float total = 0.0f;
  for (size_t i = 0; i < logits.size(); ++i) {
    float p = std::exp((logits[i] - max_logit) / params_.temperature);
    candidates_[i] = {p, static_cast<int32_t>(i)};
    total += p;
  }
  for (auto& candidate : candidates_) candidate.first /= total;

  // Most likely first; ties keep the lower token id first, so the order
  // does not depend on the sort algorithm.
  auto more_likely = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t kept = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < kept) {
    kept = params_.top_k;
    std::partial_sort(candidates_.begin(), candidates_.begin() + kept, candidates_.end(),
                      more_likely);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), more_likely);
  }

  // Nucleus: the smallest prefix whose probability reaches top_p.
  float kept_mass = 0.0f;
  for (size_t i = 0; i < kept; ++i) kept_mass += candidates_[i].first;
  if (params_.top_p > 0.0f && params_.top_p < 1.0f) {
    float cumulative = 0.0f;
    for (size_t i = 0; i < kept; ++i) {
      cumulative += candidates_[i].first;
      if (cumulative >= params_.top_p * kept_mass) {
        kept = i + 1;
        kept_mass = cumulative;
        break;
      }
    }
  }

  return Draw(absl::MakeConstSpan(candidates_.data(), kept), kept_mass);
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
