#include "engine/generate/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

namespace textgen {
namespace {

TEST(ArgMaxTest, FirstIndexWinsTies) {
  std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(ArgMax(logits), 1);
}

TEST(SamplerTest, TemperatureZeroIsGreedy) {
  Sampler sampler(SamplingParams{0.0f, 0, 1.0f}, 123);
  std::vector<float> logits = {0.1f, 0.2f, 3.0f, 0.3f};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(sampler.Sample(logits), 2);
}

TEST(SamplerTest, SameSeedSameTokens) {
  std::vector<float> logits = {1.0f, 1.1f, 0.9f, 1.05f, 0.95f};
  Sampler a(SamplingParams{1.0f, 0, 1.0f}, 42);
  Sampler b(SamplingParams{1.0f, 0, 1.0f}, 42);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.Sample(logits), b.Sample(logits)) << "draw " << i;
}

TEST(SamplerTest, TopKOneIsGreedy) {
  Sampler sampler(SamplingParams{5.0f, 1, 1.0f}, 7);
  std::vector<float> logits = {0.1f, 0.2f, 0.0f, 0.25f};
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sampler.Sample(logits), 3);
}

TEST(SamplerTest, TopKNeverDrawsOutsideTheK) {
  Sampler sampler(SamplingParams{1.0f, 2, 1.0f}, 9);
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
  Sampler sampler(SamplingParams{1.0f, 0, 0.7f}, 11);
  std::map<int32_t, int> counts;
  for (int i = 0; i < 2000; ++i) ++counts[sampler.Sample(logits)];
  EXPECT_EQ(counts[2], 0);
  // Within the nucleus the odds stay 5:3, so token 0 gets 62.5%.
  EXPECT_NEAR(counts[0] / 2000.0, 0.625, 0.05);
}

TEST(SamplerTest, FrequenciesFollowSoftmaxAtTemperature) {
  // At temperature 2 the logits log(0.8), log(0.2) give probabilities
  // proportional to sqrt(0.8) and sqrt(0.2), that is 2/3 and 1/3.
  std::vector<float> logits = {std::log(0.8f), std::log(0.2f)};
  Sampler sampler(SamplingParams{2.0f, 0, 1.0f}, 13);
  int zeros = 0;
  const int draws = 6000;
  for (int i = 0; i < draws; ++i) zeros += sampler.Sample(logits) == 0;
  EXPECT_NEAR(static_cast<double>(zeros) / draws, 2.0 / 3.0, 0.03);
}

TEST(RandomSeedTest, SeedsDiffer) {
  EXPECT_NE(RandomSeed(), RandomSeed());
}

}  // namespace
}  // namespace textgen
