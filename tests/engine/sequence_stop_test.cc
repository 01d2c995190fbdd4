// The stop conditions of Sequence: stop strings, stop token ids,
// min_new_tokens and the text held back at the end. Greedy sampling of
// one-hot logits chooses every token, so each case spells out its tokens.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/generate/sequence.h"
#include "engine/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace textgen {
namespace {

using ::testing::ElementsAre;

constexpr int32_t kEos = 0;
constexpr int32_t kA = 1;
constexpr int32_t kB = 2;
constexpr int32_t kC = 3;
constexpr int32_t kD = 4;

// Token i decodes to kTokenText[i].
class LetterTokenizer : public Tokenizer {
 public:
  std::vector<int32_t> Encode(std::string_view, bool) const override { return {}; }
  std::string TokenBytes(int32_t, int32_t token) const override {
    static constexpr const char* kTokenText[] = {"<eos>", "a", "b", "c", "d"};
    return kTokenText[token];
  }
  int32_t vocab_size() const override { return 5; }
  int32_t bos_id() const override { return -1; }
  int32_t eos_id() const override { return kEos; }
};

// The outputs of a sequence fed a fixed list of tokens.
struct SequenceRun {
  std::vector<std::string> texts;  // the text of each output
  std::vector<int32_t> output_ids;
  std::optional<FinishReason> finish;
  int sampled = 0;  // tokens sampled, the one that ended the sequence included
  std::string flushed;
  GenerationResult result;
};

// Samples `tokens` in order until the sequence finishes.
SequenceRun Generate(GenerationRequest request, const std::vector<int32_t>& tokens) {
  const LetterTokenizer tokenizer;
  const std::vector<int32_t> end_of_sequence_ids = {kEos};
  request.prompt = {kA};
  request.sampling.temperature = 0.0f;
  if (request.max_new_tokens == 0) request.max_new_tokens = 100;
  Sequence sequence(request, tokenizer, end_of_sequence_ids, /*context_length=*/100);

  SequenceRun run;
  for (int32_t token : tokens) {
    sequence.MarkCached(static_cast<int64_t>(sequence.PendingTokens(100).size()));
    std::vector<float> logits(tokenizer.vocab_size(), 0.0f);
    logits[token] = 1.0f;
    Sequence::SampleResult sampled = sequence.Sample(logits);
    ++run.sampled;
    if (sampled.output) {
      run.texts.push_back(sampled.output->text);
      run.output_ids.push_back(sampled.output->token_id);
    }
    if (sampled.finish) {
      run.finish = sampled.finish;
      run.flushed = sequence.FlushText();
      run.result = sequence.Result(*sampled.finish);
      break;
    }
  }
  return run;
}

TEST(SequenceStopTest, StopStringCutsTextAndCountsTokens) {
  GenerationRequest request;
  request.stop = {"bc"};
  const SequenceRun run = Generate(request, {kA, kB, kC, kD});

  EXPECT_EQ(run.sampled, 3);
  EXPECT_THAT(run.texts, ElementsAre("a", "", ""));
  EXPECT_THAT(run.output_ids, ElementsAre(kA, kB, kC));
  EXPECT_EQ(run.finish, FinishReason::kStopSequence);
  EXPECT_EQ(run.flushed, "");
  EXPECT_EQ(run.result.finish_reason, FinishReason::kStopSequence);
  EXPECT_EQ(run.result.generated_tokens, 3);
  EXPECT_EQ(run.result.matched_stop, "bc");
  EXPECT_FALSE(run.result.matched_stop_token_id.has_value());
}

TEST(SequenceStopTest, IncludeStopInOutput) {
  GenerationRequest request;
  request.stop = {"bc"};
  request.include_stop_in_output = true;
  const SequenceRun run = Generate(request, {kA, kB, kC, kD});
  EXPECT_THAT(run.texts, ElementsAre("a", "", "bc"));
  EXPECT_EQ(run.result.matched_stop, "bc");
}

TEST(SequenceStopTest, LengthFlushesHeldText) {
  GenerationRequest request;
  request.stop = {"bcd"};
  request.max_new_tokens = 3;
  const SequenceRun run = Generate(request, {kA, kB, kC, kD});

  EXPECT_EQ(run.sampled, 3);
  EXPECT_THAT(run.texts, ElementsAre("a", "", ""));
  EXPECT_EQ(run.flushed, "bc");
  EXPECT_EQ(run.result.finish_reason, FinishReason::kLength);
  EXPECT_EQ(run.result.matched_stop, "");
}

TEST(SequenceStopTest, EndOfSequenceFlushesHeldText) {
  GenerationRequest request;
  request.stop = {"bcd"};
  const SequenceRun run = Generate(request, {kA, kB, kEos});
  EXPECT_THAT(run.texts, ElementsAre("a", ""));
  EXPECT_EQ(run.flushed, "b");
  EXPECT_EQ(run.result.finish_reason, FinishReason::kEndOfSequence);
  EXPECT_EQ(run.result.generated_tokens, 2);
}

TEST(SequenceStopTest, StopTokenIdEndsWithoutOutput) {
  GenerationRequest request;
  request.stop_token_ids = {kD, kC};
  const SequenceRun run = Generate(request, {kA, kB, kC, kD});

  EXPECT_EQ(run.sampled, 3);
  EXPECT_THAT(run.output_ids, ElementsAre(kA, kB));
  EXPECT_EQ(run.result.finish_reason, FinishReason::kStopSequence);
  EXPECT_EQ(run.result.generated_tokens, 2);
  EXPECT_EQ(run.result.matched_stop_token_id, kC);
  EXPECT_EQ(run.result.matched_stop, "");
}

TEST(SequenceStopTest, StopTokenIdEndsEvenWithIgnoreEos) {
  GenerationRequest request;
  request.ignore_eos = true;
  request.stop_token_ids = {kC};
  const SequenceRun run = Generate(request, {kEos, kB, kC, kD});
  EXPECT_THAT(run.output_ids, ElementsAre(kEos, kB));
  EXPECT_EQ(run.result.matched_stop_token_id, kC);
}

TEST(SequenceStopTest, MinNewTokensIgnoresEosAndStopTokens) {
  GenerationRequest request;
  request.min_new_tokens = 3;
  request.stop_token_ids = {kC};
  // EOS as token 1 and kC as token 2 are ignored and output; kC after 3
  // generated tokens ends the sequence.
  const SequenceRun run = Generate(request, {kEos, kC, kB, kC, kD});

  EXPECT_EQ(run.sampled, 4);
  EXPECT_THAT(run.output_ids, ElementsAre(kEos, kC, kB));
  EXPECT_THAT(run.texts, ElementsAre("<eos>", "c", "b"));
  EXPECT_EQ(run.result.generated_tokens, 3);
  EXPECT_EQ(run.result.matched_stop_token_id, kC);
}

TEST(SequenceStopTest, EosAfterMinNewTokensEnds) {
  GenerationRequest request;
  request.min_new_tokens = 2;
  const SequenceRun run = Generate(request, {kEos, kA, kEos, kB});
  EXPECT_EQ(run.sampled, 3);
  EXPECT_THAT(run.output_ids, ElementsAre(kEos, kA));
  EXPECT_EQ(run.result.finish_reason, FinishReason::kEndOfSequence);
}

TEST(SequenceStopTest, MinNewTokensIgnoresEarlyStopString) {
  GenerationRequest request;
  request.stop = {"ab"};
  request.min_new_tokens = 3;
  // The "ab" of tokens 1 and 2 is ignored; the one of tokens 3 and 4 ends
  // the sequence.
  const SequenceRun run = Generate(request, {kA, kB, kA, kB, kC});

  EXPECT_EQ(run.sampled, 4);
  EXPECT_THAT(run.texts, ElementsAre("", "ab", "", ""));
  EXPECT_EQ(run.result.finish_reason, FinishReason::kStopSequence);
  EXPECT_EQ(run.result.generated_tokens, 4);
  EXPECT_EQ(run.result.matched_stop, "ab");
}

TEST(SequenceStopTest, StopStringCompletedAtMinNewTokensCounts) {
  GenerationRequest request;
  request.stop = {"ba"};
  request.min_new_tokens = 3;
  // "ba" starts in token 2, which is below min_new_tokens, and is completed
  // by token 3, which counts.
  const SequenceRun run = Generate(request, {kA, kB, kA, kC});

  EXPECT_EQ(run.sampled, 3);
  EXPECT_THAT(run.texts, ElementsAre("a", "", ""));
  EXPECT_EQ(run.result.matched_stop, "ba");
  EXPECT_EQ(run.result.generated_tokens, 3);
}

}  // namespace
}  // namespace textgen
