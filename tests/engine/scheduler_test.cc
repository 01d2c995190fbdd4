// The continuous-batching scheduler on the real stories260K model: batch
// invariance, the KV-cache pool running out, admission limits, cancellation
// and slow readers.

#include "engine/schedule/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "engine/model/model_loader.h"
#include "tests/engine_gate.h"
#include "tests/test_paths.h"

namespace textgen {
namespace {

using ::testing::HasSubstr;

// Everything one request produced, read until its result arrives.
struct Collected {
  std::vector<int32_t> tokens;
  std::string text;
  GenerationResult result;
  int chunks = 0;
};

Collected ReadAll(RequestStream& stream) {
  Collected collected;
  while (true) {
    RequestStream::Update update = stream.Wait(absl::Now() + absl::Seconds(30));
    if (!update.chunk.empty()) ++collected.chunks;
    collected.tokens.insert(collected.tokens.end(), update.chunk.token_ids.begin(),
                            update.chunk.token_ids.end());
    collected.text += update.chunk.text;
    if (update.result.has_value()) {
      collected.result = *update.result;
      return collected;
    }
  }
}

// Polls `condition` for up to 30 seconds.
template <typename Condition>
bool WaitUntil(Condition condition) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class SchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ModelFiles files;
    files.model_path = testing::SharedPath("models/stories260K/stories260K.bin");
    files.tokenizer_path = testing::SharedPath("models/stories260K/tok512.bin");
    absl::StatusOr<LoadedModel> loaded = LoadModel(files);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    loaded_ = new LoadedModel(*std::move(loaded));
  }
  static void TearDownTestSuite() { delete loaded_; }

  static std::unique_ptr<Scheduler> NewScheduler(SchedulerOptions options) {
    return std::make_unique<Scheduler>(*loaded_->model, *loaded_->tokenizer,
                                       loaded_->end_of_sequence_ids, options);
  }

  static GenerationRequest Request(const std::string& prompt, int max_new_tokens,
                                   float temperature, uint64_t seed) {
    GenerationRequest request;
    request.prompt = loaded_->tokenizer->Encode(prompt, true);
    request.max_new_tokens = max_new_tokens;
    request.sampling.temperature = temperature;
    request.sampling.top_p = 0.95f;
    request.seed = seed;
    request.ignore_eos = true;
    return request;
  }

  // Runs `request` alone on a fresh scheduler.
  static Collected RunAlone(const GenerationRequest& request, SchedulerOptions options = {}) {
    std::unique_ptr<Scheduler> scheduler = NewScheduler(options);
    absl::StatusOr<std::shared_ptr<RequestStream>> stream = scheduler->Submit(request);
    EXPECT_TRUE(stream.ok()) << stream.status();
    return ReadAll(**stream);
  }

  static LoadedModel* loaded_;
};

LoadedModel* SchedulerTest::loaded_ = nullptr;

const char* const kPrompts[] = {"Once upon a time", "The cat sat on the mat.", "Lily and Tom",
                                "One day, a little bird", "The sun was hot"};

TEST_F(SchedulerTest, SameTokensAloneAndAmidFifteenOthers) {
  for (float temperature : {0.0f, 1.0f}) {
    SCOPED_TRACE("temperature " + std::to_string(temperature));
    const GenerationRequest probe = Request("Once upon a time", 120, temperature, 77);
    const Collected alone = RunAlone(probe);
    ASSERT_EQ(alone.tokens.size(), 120u);

    // Fifteen other streams, started before and after the probe, with other
    // prompts, lengths and seeds, so the probe shares steps of varying size.
    std::unique_ptr<Scheduler> scheduler = NewScheduler({});
    std::vector<std::shared_ptr<RequestStream>> others;
    for (int i = 0; i < 8; ++i) {
      others.push_back(*scheduler->Submit(Request(kPrompts[i % 5], 60 + 17 * i, 1.0f, i)));
    }
    std::shared_ptr<RequestStream> probe_stream = *scheduler->Submit(probe);
    for (int i = 8; i < 15; ++i) {
      others.push_back(*scheduler->Submit(Request(kPrompts[i % 5], 60 + 17 * i, 0.8f, i)));
    }

    const Collected batched = ReadAll(*probe_stream);
    EXPECT_EQ(batched.tokens, alone.tokens);
    EXPECT_EQ(batched.text, alone.text);
    for (auto& other : others) EXPECT_EQ(ReadAll(*other).result.finish_reason, FinishReason::kLength);
  }
}

TEST_F(SchedulerTest, PreemptedSequencesResumeWithSameTokens) {
  // 12 blocks of 16 positions: four sequences of about 105 positions each
  // cannot all fit, so later ones are preempted and recomputed.
  SchedulerOptions small;
  small.kv_block_size = 16;
  small.kv_cache_bytes = 12 * loaded_->model->kv_layout(16).block_bytes();

  std::vector<GenerationRequest> requests;
  std::vector<Collected> alone;
  for (int i = 0; i < 4; ++i) {
    requests.push_back(Request(kPrompts[i], 100, 1.0f, 1000 + i));
    alone.push_back(RunAlone(requests.back()));
  }

  std::unique_ptr<Scheduler> scheduler = NewScheduler(small);
  EXPECT_EQ(scheduler->kv_blocks_total(), 12);
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (const GenerationRequest& request : requests) streams.push_back(*scheduler->Submit(request));
  for (int i = 0; i < 4; ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    const Collected batched = ReadAll(*streams[i]);
    EXPECT_EQ(batched.tokens, alone[i].tokens);
    EXPECT_EQ(batched.result.finish_reason, FinishReason::kLength);
  }
  EXPECT_GT(scheduler->preemptions(), 0);
  EXPECT_EQ(scheduler->kv_blocks_used(), 0);
}

TEST_F(SchedulerTest, SequenceLargerThanWholeCacheEndsWithLength) {
  // 4 blocks of 16 hold 64 positions. A 5-token prompt then samples
  // 64 + 1 - 5 = 60 tokens (the last after position 63).
  SchedulerOptions tiny;
  tiny.kv_block_size = 16;
  tiny.kv_cache_bytes = 4 * loaded_->model->kv_layout(16).block_bytes();
  const Collected collected = RunAlone(Request("Once upon a time", 300, 1.0f, 5), tiny);
  EXPECT_EQ(collected.result.finish_reason, FinishReason::kLength);
  EXPECT_EQ(collected.result.generated_tokens, 60);
}

TEST_F(SchedulerTest, PromptLargerThanWholeCacheIsRejected) {
  SchedulerOptions tiny;
  tiny.kv_block_size = 16;
  tiny.kv_cache_bytes = 2 * loaded_->model->kv_layout(16).block_bytes();
  std::unique_ptr<Scheduler> scheduler = NewScheduler(tiny);
  GenerationRequest request = Request("Once upon a time", 10, 0.0f, 0);
  request.prompt.assign(40, 300);
  absl::StatusOr<std::shared_ptr<RequestStream>> stream = scheduler->Submit(request);
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(stream.status().message(), HasSubstr("--kv-cache-mib"));
}

TEST_F(SchedulerTest, FullQueueIsRejectedAtOnce) {
  testing::EngineGate gate;
  SchedulerOptions limits;
  limits.max_running = 1;
  limits.max_waiting = 2;
  limits.step_observer = gate.Observer();
  std::unique_ptr<Scheduler> scheduler = NewScheduler(limits);

  // Hold the engine after the first request's first step, so it is running
  // while the queue fills.
  gate.Close();
  std::shared_ptr<RequestStream> running = *scheduler->Submit(Request("Once", 400, 1.0f, 1));
  ASSERT_TRUE(gate.WaitForStep());
  std::shared_ptr<RequestStream> first = *scheduler->Submit(Request("Once", 5, 1.0f, 2));
  std::shared_ptr<RequestStream> second = *scheduler->Submit(Request("Once", 5, 1.0f, 3));

  absl::StatusOr<std::shared_ptr<RequestStream>> third = scheduler->Submit(Request("Once", 5, 1.0f, 4));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.status().message(), HasSubstr("--max-waiting"));

  running->Cancel();
  gate.Open();
  EXPECT_EQ(ReadAll(*running).result.finish_reason, FinishReason::kCancelled);
  EXPECT_EQ(ReadAll(*first).result.generated_tokens, 5);
  EXPECT_EQ(ReadAll(*second).result.generated_tokens, 5);
}

TEST_F(SchedulerTest, CancelledSequenceReturnsItsBlocks) {
  std::unique_ptr<Scheduler> scheduler = NewScheduler({});
  std::shared_ptr<RequestStream> stream = *scheduler->Submit(Request("Once", 500, 1.0f, 9));
  // Wait for a few tokens, then cancel.
  RequestStream::Update update;
  while (update.chunk.token_ids.empty()) update = stream->Wait(absl::Now() + absl::Seconds(5));
  EXPECT_GT(scheduler->kv_blocks_used(), 0);
  stream->Cancel();

  const Collected rest = ReadAll(*stream);
  EXPECT_EQ(rest.result.finish_reason, FinishReason::kCancelled);
  EXPECT_LT(rest.result.generated_tokens, 500);
  ASSERT_TRUE(WaitUntil([&] { return scheduler->running() == 0; }));
  EXPECT_EQ(scheduler->kv_blocks_used(), 0);
}

TEST_F(SchedulerTest, SlowReaderDoesNotSlowOthers) {
  std::unique_ptr<Scheduler> scheduler = NewScheduler({});
  std::shared_ptr<RequestStream> slow = *scheduler->Submit(Request("Once", 300, 1.0f, 11));
  std::shared_ptr<RequestStream> fast = *scheduler->Submit(Request("The cat", 300, 1.0f, 12));

  // The fast reader finishes while the slow stream is not read.
  const Collected fast_output = ReadAll(*fast);
  EXPECT_EQ(fast_output.result.generated_tokens, 300);

  // The slow stream's output waited, coalesced, and is complete.
  ASSERT_TRUE(WaitUntil([&] { return scheduler->running() == 0; }));
  const Collected slow_output = ReadAll(*slow);
  EXPECT_EQ(slow_output.tokens.size(), 300u);
  EXPECT_LE(slow_output.chunks, 2);
  EXPECT_EQ(slow_output.tokens, RunAlone(Request("Once", 300, 1.0f, 11)).tokens);
}

}  // namespace
}  // namespace textgen
