// LogitsProcessor against values worked out by hand on six logits.

#include "engine/generate/logits_processor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace textgen {
namespace {

using ::testing::ElementsAre;

const std::vector<float> kLogits = {2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 1.0f};
// With a window of 5 the penalties count tokens 0 (twice), 1 (once) and 3
// (twice); tokens 4 and 2 lie before the window.
const std::vector<int32_t> kHistory = {4, 2, 0, 1, 3, 3, 0};

std::vector<float> Process(const LogitAdjustments& adjustments,
                           const std::vector<int32_t>& history = kHistory) {
  LogitsProcessor processor(adjustments);
  absl::Span<const float> adjusted = processor.Process(kLogits, history);
  return std::vector<float>(adjusted.begin(), adjusted.end());
}

TEST(LogitsProcessorTest, DefaultsReturnTheLogitsThemselves) {
  LogitsProcessor processor{LogitAdjustments{}};
  EXPECT_FALSE(processor.enabled());
  absl::Span<const float> adjusted = processor.Process(kLogits, kHistory);
  EXPECT_EQ(adjusted.data(), kLogits.data());
  EXPECT_EQ(adjusted.size(), kLogits.size());
}

TEST(LogitsProcessorTest, PenaltiesThatAreOffChangeNothing) {
  for (float repetition : {0.0f, 1.0f}) {
    LogitAdjustments adjustments;
    adjustments.repetition_penalty = repetition;
    adjustments.penalty_window = 3;
    LogitsProcessor processor(adjustments);
    EXPECT_FALSE(processor.enabled()) << "repetition_penalty " << repetition;
    EXPECT_EQ(processor.Process(kLogits, kHistory).data(), kLogits.data());
  }
}

TEST(LogitsProcessorTest, RepetitionPenaltyDividesPositiveMultipliesNegative) {
  LogitAdjustments adjustments;
  adjustments.repetition_penalty = 2.0f;
  adjustments.penalty_window = 5;
  // 2 / 2 = 1, -1 * 2 = -2 and 3 / 2 = 1.5. Tokens 2, 4 and 5 are not in the window.
  EXPECT_THAT(Process(adjustments), ElementsAre(1.0f, -2.0f, 0.5f, 1.5f, -2.0f, 1.0f));
}

TEST(LogitsProcessorTest, WindowZeroCountsWholeHistory) {
  LogitAdjustments adjustments;
  adjustments.repetition_penalty = 2.0f;
  // Tokens 4 and 2 now count too: -2 * 2 = -4 and 0.5 / 2 = 0.25.
  EXPECT_THAT(Process(adjustments), ElementsAre(1.0f, -2.0f, 0.25f, 1.5f, -4.0f, 1.0f));
  // A window longer than the history is the whole history.
  adjustments.penalty_window = 100;
  EXPECT_THAT(Process(adjustments), ElementsAre(1.0f, -2.0f, 0.25f, 1.5f, -4.0f, 1.0f));
}

TEST(LogitsProcessorTest, PresenceAndFrequencySubtractPerCount) {
  LogitAdjustments adjustments;
  adjustments.presence_penalty = 0.5f;
  adjustments.frequency_penalty = 0.25f;
  adjustments.penalty_window = 5;
  // Token 0 (count 2): 2 - 0.5 - 0.25 * 2 = 1. Token 1 (count 1):
  // -1 - 0.5 - 0.25 = -1.75. Token 3 (count 2): 3 - 0.5 - 0.5 = 2.
  EXPECT_THAT(Process(adjustments), ElementsAre(1.0f, -1.75f, 0.5f, 2.0f, -2.0f, 1.0f));
}

TEST(LogitsProcessorTest, NegativePenaltiesFavourRepeats) {
  LogitAdjustments adjustments;
  adjustments.presence_penalty = -1.0f;
  adjustments.frequency_penalty = -0.5f;
  adjustments.penalty_window = 5;
  // Token 0: 2 + 1 + 1 = 4. Token 1: -1 + 1 + 0.5 = 0.5. Token 3: 3 + 2 = 5.
  EXPECT_THAT(Process(adjustments), ElementsAre(4.0f, 0.5f, 0.5f, 5.0f, -2.0f, 1.0f));
}

TEST(LogitsProcessorTest, LogitBiasIsAdded) {
  LogitAdjustments adjustments;
  adjustments.logit_bias = {{2, 1.5f}, {3, -4.0f}, {5, -0.5f}};
  EXPECT_THAT(Process(adjustments), ElementsAre(2.0f, -1.0f, 2.0f, -1.0f, -2.0f, 0.5f));
}

TEST(LogitsProcessorTest, BiasThenRepetitionThenAdditivePenalties) {
  LogitAdjustments adjustments;
  adjustments.logit_bias = {{2, 1.5f}, {3, -4.0f}, {5, -0.5f}};
  adjustments.repetition_penalty = 2.0f;
  adjustments.presence_penalty = 0.5f;
  adjustments.frequency_penalty = 0.25f;
  adjustments.penalty_window = 5;
  // Bias: token 2 -> 2, token 3 -> -1, token 5 -> 0.5.
  // Repetition: token 0 -> 2 / 2 = 1 and token 1 -> -1 * 2 = -2. Token 3 is
  // now negative, so -1 * 2 = -2 (penalizing before the bias would give
  // 1.5 - 4).
  // Additive: token 0 -> 1 - 0.5 - 0.5 = 0, token 1 -> -2 - 0.75 = -2.75 and
  // token 3 -> -2 - 1 = -3. Subtracting before dividing would give
  // (2 - 1) / 2 = 0.5 for token 0.
  EXPECT_THAT(Process(adjustments), ElementsAre(0.0f, -2.75f, 2.0f, -3.0f, -2.0f, 0.5f));
}

TEST(LogitsProcessorTest, BufferIsRecomputedEachStep) {
  LogitAdjustments adjustments;
  adjustments.frequency_penalty = 1.0f;
  LogitsProcessor processor(adjustments);
  const std::vector<int32_t> first = {0};
  const std::vector<int32_t> second = {1};
  processor.Process(kLogits, first);
  absl::Span<const float> adjusted = processor.Process(kLogits, second);
  // Only the second step's history counts: token 0 is back to 2.
  EXPECT_THAT(std::vector<float>(adjusted.begin(), adjusted.end()),
              ElementsAre(2.0f, -2.0f, 0.5f, 3.0f, -2.0f, 1.0f));
}

}  // namespace
}  // namespace textgen
