// ComputeTokenLogprob against log-probabilities chosen by hand: the logits
// are logs of known probabilities, so the expected values are those logs.

#include "engine/generate/token_logprobs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace textgen {
namespace {

const std::vector<float> kLogits = {std::log(0.5f), std::log(0.25f), std::log(0.125f),
                                    std::log(0.125f)};

TEST(TokenLogprobTest, LogprobOfChosenToken) {
  TokenLogprob result = ComputeTokenLogprob(kLogits, 1.0f, 1, 0);
  EXPECT_EQ(result.token_id, 1);
  EXPECT_NEAR(result.logprob, std::log(0.25), 1e-6);
  EXPECT_TRUE(result.top.empty());
}

TEST(TokenLogprobTest, TopSortedWithTiesById) {
  TokenLogprob result = ComputeTokenLogprob(kLogits, 1.0f, 3, 3);
  EXPECT_NEAR(result.logprob, std::log(0.125), 1e-6);
  ASSERT_EQ(result.top.size(), 3u);
  EXPECT_EQ(result.top[0].token_id, 0);
  EXPECT_NEAR(result.top[0].logprob, std::log(0.5), 1e-6);
  EXPECT_EQ(result.top[1].token_id, 1);
  EXPECT_NEAR(result.top[1].logprob, std::log(0.25), 1e-6);
  // Tokens 2 and 3 tie, so the lower id comes first and token 3 is left out.
  EXPECT_EQ(result.top[2].token_id, 2);
  EXPECT_NEAR(result.top[2].logprob, std::log(0.125), 1e-6);
  EXPECT_TRUE(result.top[2].piece.empty());
}

TEST(TokenLogprobTest, TopCountAboveVocabularyListsEveryToken) {
  TokenLogprob result = ComputeTokenLogprob(kLogits, 1.0f, 0, 20);
  ASSERT_EQ(result.top.size(), 4u);
  EXPECT_EQ(result.top[3].token_id, 3);
}

TEST(TokenLogprobTest, TemperatureDividesLogits) {
  // At temperature 2 the logits 0 and log(4) become 0 and log(2), so the
  // probabilities are 1/3 and 2/3.
  const std::vector<float> logits = {0.0f, std::log(4.0f)};
  EXPECT_NEAR(ComputeTokenLogprob(logits, 2.0f, 0, 0).logprob, std::log(1.0 / 3.0), 1e-6);
  EXPECT_NEAR(ComputeTokenLogprob(logits, 2.0f, 1, 0).logprob, std::log(2.0 / 3.0), 1e-6);
}

TEST(TokenLogprobTest, GreedyUsesTemperatureOne) {
  const std::vector<float> logits = {0.0f, std::log(4.0f)};
  EXPECT_NEAR(ComputeTokenLogprob(logits, 0.0f, 0, 0).logprob, std::log(0.2), 1e-6);
}

TEST(TokenLogprobTest, LargeLogitsDoNotOverflow) {
  // exp(1000) overflows float and double, but log-softmax is still log(1/2).
  const std::vector<float> logits = {1000.0f, 1000.0f, -1000.0f};
  TokenLogprob result = ComputeTokenLogprob(logits, 1.0f, 0, 3);
  EXPECT_NEAR(result.logprob, std::log(0.5), 1e-6);
  EXPECT_TRUE(std::isfinite(result.top[2].logprob));
  EXPECT_NEAR(result.top[2].logprob, -2000.0 - std::log(2.0), 1e-3);
}

TEST(TokenLogprobTest, TopOfLargeVocabularyIsTheLargestLogits) {
  // 50000 logits where token i has logit -((i * 7919) % 50000): the five
  // largest are 0, -1, ..., -4, at the tokens whose product is 0..4 mod 50000.
  std::vector<float> logits(50000);
  for (int i = 0; i < 50000; ++i) logits[i] = -static_cast<float>((i * 7919LL) % 50000);
  TokenLogprob result = ComputeTokenLogprob(logits, 1.0f, 0, 5);
  ASSERT_EQ(result.top.size(), 5u);
  for (int rank = 0; rank < 5; ++rank) {
    EXPECT_EQ(logits[result.top[rank].token_id], -static_cast<float>(rank)) << "rank " << rank;
  }
  // The sum over all tokens is about sum_k exp(-k) = 1 / (1 - 1/e).
  const double log_normalizer = -std::log(1.0 - std::exp(-1.0));
  EXPECT_NEAR(result.top[0].logprob, -log_normalizer, 1e-5);
  EXPECT_NEAR(result.logprob, -log_normalizer, 1e-5);
}

}  // namespace
}  // namespace textgen
