// Google Benchmark of choosing one token from GPT-2-sized logits: greedy,
// with penalties, with log-probabilities, and sampled at a temperature with
// and without cuts. The engine step it follows takes milliseconds.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "engine/generate/sampler.h"

namespace textgen {
namespace {

constexpr int64_t kVocabSize = 50257;  // GPT-2's vocabulary
constexpr int64_t kHistory = 144;      // prompt and generated tokens so far

// Logits [kVocabSize] of a peaked distribution, like a trained model's:
// normal noise around 0 with a few tokens well above it.
std::vector<float> PeakedLogits() {
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 2.0f);
  std::vector<float> logits(kVocabSize);
  for (float& logit : logits) logit = noise(rng);
  for (int i = 0; i < 8; ++i) logits[(i * 6007) % kVocabSize] += 12.0f;
  return logits;
}

// A history [kHistory] of token ids with repeats, for the penalties.
std::vector<int32_t> History() {
  std::vector<int32_t> history(kHistory);
  for (int64_t i = 0; i < kHistory; ++i) history[i] = static_cast<int32_t>((i * 37) % 400);
  return history;
}

void RunSampler(benchmark::State& state, const SamplingParams& params, bool with_logprob) {
  const std::vector<float> logits = PeakedLogits();
  const std::vector<int32_t> history = History();
  Sampler sampler(params, /*seed=*/1);
  TokenLogprob logprob;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        sampler.Sample(logits, history, with_logprob ? &logprob : nullptr));
  }
}

void BM_Greedy(benchmark::State& state) { RunSampler(state, SamplingParams{}, false); }

void BM_GreedyWithPenalties(benchmark::State& state) {
  SamplingParams params;
  params.adjustments.repetition_penalty = 1.2f;
  params.adjustments.presence_penalty = 0.5f;
  params.adjustments.frequency_penalty = 0.5f;
  RunSampler(state, params, false);
}

void BM_GreedyWithLogprobs(benchmark::State& state) {
  SamplingParams params;
  params.logprobs = true;
  params.top_logprobs = static_cast<int32_t>(state.range(0));
  RunSampler(state, params, true);
}

void BM_Temperature(benchmark::State& state) {
  SamplingParams params;
  params.temperature = 1.0f;
  RunSampler(state, params, false);
}

void BM_TemperatureTopK(benchmark::State& state) {
  SamplingParams params;
  params.temperature = 1.0f;
  params.top_k = 50;
  RunSampler(state, params, false);
}

void BM_TemperatureTopP(benchmark::State& state) {
  SamplingParams params;
  params.temperature = 1.0f;
  params.top_p = 0.9f;
  RunSampler(state, params, false);
}

void BM_TemperatureMinP(benchmark::State& state) {
  SamplingParams params;
  params.temperature = 1.0f;
  params.min_p = 0.05f;
  RunSampler(state, params, false);
}

BENCHMARK(BM_Greedy)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GreedyWithPenalties)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GreedyWithLogprobs)->Arg(0)->Arg(20)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Temperature)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TemperatureTopK)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TemperatureTopP)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TemperatureMinP)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace textgen

BENCHMARK_MAIN();
