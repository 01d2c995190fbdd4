#include "engine/generate/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <vector>

namespace textgen {
namespace {

SamplingParams Params(float temperature, int32_t top_k, float top_p, float min_p = 0.0f) {
  SamplingParams params;
  params.temperature = temperature;
  params.top_k = top_k;
  params.top_p = top_p;
  params.min_p = min_p;
  return params;
}

// Returns how often each token was drawn in `draws` samples.
std::map<int32_t, int> CountDraws(Sampler& sampler, absl::Span<const float> logits, int draws) {
  std::map<int32_t, int> counts;
  for (int i = 0; i < draws; ++i) ++counts[sampler.Sample(logits)];
  return counts;
}

// Probabilities 0.4, 0.25, 0.2, 0.1, 0.05 (the logits are their logs).
const std::vector<float> kFiveTokens = {std::log(0.4f), std::log(0.25f), std::log(0.2f),
                                        std::log(0.1f), std::log(0.05f)};

TEST(ArgMaxTest, FirstIndexWinsTies) {
  std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(ArgMax(logits), 1);
}

TEST(SamplerTest, TemperatureZeroIsGreedy) {
  Sampler sampler(Params(0.0f, 0, 1.0f), 123);
  std::vector<float> logits = {0.1f, 0.2f, 3.0f, 0.3f};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(sampler.Sample(logits), 2);
}

TEST(SamplerTest, SameSeedSameTokens) {
  std::vector<float> logits = {1.0f, 1.1f, 0.9f, 1.05f, 0.95f};
  Sampler a(Params(1.0f, 0, 1.0f), 42);
  Sampler b(Params(1.0f, 0, 1.0f), 42);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.Sample(logits), b.Sample(logits)) << "draw " << i;
}

TEST(SamplerTest, TopKOneIsGreedy) {
  Sampler sampler(Params(5.0f, 1, 1.0f), 7);
  std::vector<float> logits = {0.1f, 0.2f, 0.0f, 0.25f};
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sampler.Sample(logits), 3);
}

TEST(SamplerTest, TopKNeverDrawsOutsideTheK) {
  Sampler sampler(Params(1.0f, 2, 1.0f), 9);
  std::vector<float> logits = {3.0f, 0.0f, 2.9f, 0.1f, 0.2f};
  for (int i = 0; i < 500; ++i) {
    int32_t token = sampler.Sample(logits);
    ASSERT_TRUE(token == 0 || token == 2) << "drew " << token;
  }
}

TEST(SamplerTest, TopPKeepsSmallestNucleus) {
  // Probabilities 0.5, 0.3, 0.2 (logits are their logs): top_p 0.7 needs the
  // first two (0.5 < 0.7 <= 0.8), so token 2 is never drawn.
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  Sampler sampler(Params(1.0f, 0, 0.7f), 11);
  std::map<int32_t, int> counts;
  for (int i = 0; i < 2000; ++i) ++counts[sampler.Sample(logits)];
  EXPECT_EQ(counts[2], 0);
  // Within the nucleus the odds stay 5:3, so token 0 gets 62.5%.
  EXPECT_NEAR(counts[0] / 2000.0, 0.625, 0.05);
}

TEST(SamplerTest, TopPNeverDrawsOutsideNucleusOfWideTail) {
  // 4 likely tokens and 2,000 unlikely ones of graded probabilities, so
  // that the nucleus of top_p 0.95 reaches into the tail. The nucleus is
  // computed here by sorting every probability in double precision.
  std::vector<float> logits(2004);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = -0.002f * static_cast<float>(i);
  for (int i = 0; i < 4; ++i) logits[500 * i + 7] = 6.0f;
  std::vector<double> probabilities(logits.size());
  double total = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) total += probabilities[i] = std::exp(logits[i]);
  std::vector<std::pair<double, int32_t>> sorted;
  for (size_t i = 0; i < logits.size(); ++i) {
    sorted.push_back({probabilities[i] / total, static_cast<int32_t>(i)});
  }
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  std::vector<bool> in_nucleus(logits.size(), false);
  double mass = 0.0;
  size_t nucleus_size = 0;
  for (const auto& [probability, token] : sorted) {
    in_nucleus[token] = true;
    ++nucleus_size;
    mass += probability;
    if (mass >= 0.95) break;
  }
  ASSERT_GT(nucleus_size, 100u);
  ASSERT_LT(nucleus_size, 1900u);

  // Within the nucleus, the tail's share of the draws is its share of the
  // nucleus mass, so a nucleus cut too short would draw too few tail tokens.
  const double head_mass = sorted[0].first + sorted[1].first + sorted[2].first + sorted[3].first;
  const double expected_tail_share = (mass - head_mass) / mass;

  Sampler sampler(Params(1.0f, 0, 0.95f), 17);
  const int draws = 3000;
  int tail_draws = 0;
  for (int i = 0; i < draws; ++i) {
    const int32_t token = sampler.Sample(logits);
    tail_draws += logits[token] < 6.0f;
    // The last token of the nucleus is the one rounding could move.
    if (token != sorted[nucleus_size - 1].second && token != sorted[nucleus_size].second) {
      ASSERT_TRUE(in_nucleus[token]) << "drew " << token << " outside the nucleus";
    }
  }
  EXPECT_NEAR(static_cast<double>(tail_draws) / draws, expected_tail_share, 0.03);
}

TEST(SamplerTest, FrequenciesFollowSoftmaxAtTemperature) {
  // At temperature 2 the logits log(0.8), log(0.2) give probabilities
  // proportional to sqrt(0.8) and sqrt(0.2), that is 2/3 and 1/3.
  std::vector<float> logits = {std::log(0.8f), std::log(0.2f)};
  Sampler sampler(Params(2.0f, 0, 1.0f), 13);
  int zeros = 0;
  const int draws = 6000;
  for (int i = 0; i < draws; ++i) zeros += sampler.Sample(logits) == 0;
  EXPECT_NEAR(static_cast<double>(zeros) / draws, 2.0 / 3.0, 0.03);
}

TEST(SamplerTest, MinPKeepsTokensAboveFractionOfMax) {
  // min_p 0.3 keeps probabilities >= 0.3 * 0.4 = 0.12: tokens 0, 1 and 2.
  // Both ways of sorting are covered: all tokens (top_k off) and top_k 4.
  for (int32_t top_k : {0, 4}) {
    SCOPED_TRACE(top_k);
    Sampler sampler(Params(1.0f, top_k, 1.0f, 0.3f), 17);
    std::map<int32_t, int> counts = CountDraws(sampler, kFiveTokens, 4000);
    EXPECT_EQ(counts[3], 0);
    EXPECT_EQ(counts[4], 0);
    // Within the kept set the odds stay 0.4 : 0.25 : 0.2.
    EXPECT_NEAR(counts[0] / 4000.0, 0.4 / 0.85, 0.03);
    EXPECT_NEAR(counts[1] / 4000.0, 0.25 / 0.85, 0.03);
    EXPECT_NEAR(counts[2] / 4000.0, 0.2 / 0.85, 0.03);
  }
}

TEST(SamplerTest, MinPOneIsGreedy) {
  Sampler sampler(Params(1.0f, 0, 1.0f, 1.0f), 19);
  std::map<int32_t, int> counts = CountDraws(sampler, kFiveTokens, 200);
  EXPECT_EQ(counts[0], 200);
}

TEST(SamplerTest, TopPAndMinPKeepTheSmallerSet) {
  // top_p 0.5 keeps {0, 1} (0.4 < 0.5 <= 0.65). min_p 0.3 alone would keep
  // {0, 1, 2}.
  Sampler nucleus_smaller(Params(1.0f, 0, 0.5f, 0.3f), 23);
  std::map<int32_t, int> counts = CountDraws(nucleus_smaller, kFiveTokens, 3000);
  EXPECT_EQ(counts[2] + counts[3] + counts[4], 0);
  EXPECT_NEAR(counts[0] / 3000.0, 0.4 / 0.65, 0.03);

  // top_p 0.9 keeps {0, 1, 2, 3} (0.85 < 0.9 <= 0.95). min_p 0.55 keeps
  // probabilities >= 0.22, that is {0, 1}.
  Sampler min_p_smaller(Params(1.0f, 0, 0.9f, 0.55f), 29);
  counts = CountDraws(min_p_smaller, kFiveTokens, 3000);
  EXPECT_EQ(counts[2] + counts[3] + counts[4], 0);
  EXPECT_NEAR(counts[0] / 3000.0, 0.4 / 0.65, 0.03);
}

TEST(SamplerTest, TopKAndMinPKeepTheSmallerSet) {
  // top_k 3 keeps {0, 1, 2}, and min_p 0.55 keeps probabilities >= 0.22: {0, 1}.
  Sampler min_p_smaller(Params(1.0f, 3, 1.0f, 0.55f), 31);
  std::map<int32_t, int> counts = CountDraws(min_p_smaller, kFiveTokens, 3000);
  EXPECT_EQ(counts[2] + counts[3] + counts[4], 0);
  EXPECT_NEAR(counts[0] / 3000.0, 0.4 / 0.65, 0.03);

  // top_k 1 keeps {0}, where min_p 0.3 would keep {0, 1, 2}.
  Sampler top_k_smaller(Params(1.0f, 1, 1.0f, 0.3f), 33);
  counts = CountDraws(top_k_smaller, kFiveTokens, 500);
  EXPECT_EQ(counts[0], 500);
}

TEST(SamplerTest, MinPAppliesAfterTemperature) {
  // At temperature 2 the probabilities are proportional to the square roots
  // of 0.4, 0.25, 0.2, 0.1 and 0.05: relative to the largest, 1, 0.79, 0.71,
  // 0.5 and 0.35. min_p 0.6 keeps tokens 0, 1 and 2. At temperature 1 (ratios
  // 1, 0.625, 0.5, ...) it would keep only tokens 0 and 1.
  Sampler sampler(Params(2.0f, 0, 1.0f, 0.6f), 37);
  std::map<int32_t, int> counts = CountDraws(sampler, kFiveTokens, 3000);
  EXPECT_GT(counts[2], 0);
  EXPECT_EQ(counts[3] + counts[4], 0);
}

TEST(SamplerTest, GreedyTakesArgMaxOfAdjustedLogits) {
  SamplingParams params;
  params.adjustments.logit_bias = {{1, -2.5f}};
  Sampler sampler(params, 41);
  // Token 1 drops from 3 to 0.5, below token 2.
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f};
  EXPECT_EQ(sampler.Sample(logits), 2);

  SamplingParams penalized;
  penalized.adjustments.repetition_penalty = 4.0f;
  Sampler repetition(penalized, 43);
  // Token 1 has occurred: 3 / 4 = 0.75, below token 0 as well.
  const std::vector<int32_t> history = {1};
  EXPECT_EQ(repetition.Sample(logits, history), 2);
  EXPECT_EQ(repetition.Sample(logits), 1);
}

TEST(SamplerTest, BiasAppliesBeforeTemperature) {
  // Logits 0, 0 with bias log(9) on token 1, at temperature 2: (0 + log 9) / 2
  // = log 3, so token 1 has probability 3/4. Dividing first and biasing
  // after would give 9/10.
  SamplingParams params = Params(2.0f, 0, 1.0f);
  params.adjustments.logit_bias = {{1, std::log(9.0f)}};
  Sampler sampler(params, 47);
  const std::vector<float> logits = {0.0f, 0.0f};
  int ones = 0;
  const int draws = 4000;
  for (int i = 0; i < draws; ++i) {
    TokenLogprob logprob;
    const int32_t token = sampler.Sample(logits, {}, &logprob);
    ASSERT_EQ(logprob.token_id, token);
    ASSERT_NEAR(logprob.logprob, std::log(token == 1 ? 0.75 : 0.25), 1e-6);
    ones += token == 1;
  }
  EXPECT_NEAR(static_cast<double>(ones) / draws, 0.75, 0.03);
}

TEST(SamplerTest, LogprobListsTopTokens) {
  SamplingParams params;
  params.top_logprobs = 2;
  Sampler sampler(params, 53);
  TokenLogprob logprob;
  EXPECT_EQ(sampler.Sample(kFiveTokens, {}, &logprob), 0);
  EXPECT_NEAR(logprob.logprob, std::log(0.4), 1e-6);
  ASSERT_EQ(logprob.top.size(), 2u);
  EXPECT_EQ(logprob.top[0].token_id, 0);
  EXPECT_EQ(logprob.top[1].token_id, 1);
  EXPECT_NEAR(logprob.top[1].logprob, std::log(0.25), 1e-6);
}

TEST(SamplerTest, AdjustmentsThatAreOffKeepDraws) {
  // Explicit "off" values take the same path as the defaults, so the same
  // seed draws the same tokens.
  SamplingParams off = Params(1.0f, 0, 1.0f);
  off.adjustments.repetition_penalty = 0.0f;
  off.adjustments.penalty_window = 2;
  Sampler a(Params(1.0f, 0, 1.0f), 59);
  Sampler b(off, 59);
  const std::vector<int32_t> history = {0, 1, 1};
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(a.Sample(kFiveTokens, history), b.Sample(kFiveTokens, history)) << "draw " << i;
  }
}

TEST(RandomSeedTest, SeedsDiffer) {
  EXPECT_NE(RandomSeed(), RandomSeed());
}

}  // namespace
}  // namespace textgen
