// Many streams at once through a real server over loopback gRPC: batch
// invariance, admission limits, cancellation returning KV-cache blocks, and
// a client that stops reading.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/model/model_loader.h"
#include "server/generation_service.h"
#include "tests/server/generate_call.h"
#include "tests/engine_gate.h"
#include "tests/test_paths.h"

namespace textgen {
namespace {

using ::testing::HasSubstr;

// A server on an ephemeral loopback port with the given scheduler options.
class TestServer {
 public:
  explicit TestServer(const SchedulerOptions& scheduler_options) {
    ModelFiles files;
    files.model_path = testing::SharedPath("models/stories260K/stories260K.bin");
    files.tokenizer_path = testing::SharedPath("models/stories260K/tok512.bin");
    absl::StatusOr<LoadedModel> loaded = LoadModel(files);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    model_ = std::make_unique<LoadedModel>(*std::move(loaded));
    ServiceOptions options;
    options.scheduler = scheduler_options;
    service_ = std::make_unique<GenerationService>(*model_, options);
    absl::StatusOr<RunningServer> running = StartGrpcServer(service_.get(), "127.0.0.1:0");
    EXPECT_TRUE(running.ok()) << running.status();
    running_ = *std::move(running);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(running_.port),
                                   grpc::InsecureChannelCredentials());
  }

  ~TestServer() { running_.server->Shutdown(); }

  std::unique_ptr<v1::TextGeneration::Stub> NewStub() { return v1::TextGeneration::NewStub(channel_); }
  const Scheduler& scheduler() const { return service_->scheduler(); }

 private:
  std::unique_ptr<LoadedModel> model_;
  std::unique_ptr<GenerationService> service_;
  RunningServer running_;
  std::shared_ptr<grpc::Channel> channel_;
};

v1::GenerateRequest SampledRequest(const std::string& prompt, uint32_t max_new_tokens,
                                   float temperature, uint64_t seed) {
  v1::GenerateRequest request;
  request.set_prompt(prompt);
  request.mutable_sampling()->set_temperature(temperature);
  request.mutable_sampling()->set_top_k(40);
  request.mutable_sampling()->set_seed(seed);
  request.mutable_stopping()->set_max_new_tokens(max_new_tokens);
  request.mutable_stopping()->set_ignore_eos(true);
  return request;
}

const char* const kPrompts[] = {"Once upon a time", "The cat sat on the mat.", "Lily and Tom",
                                "One day, a little bird", "The sun was hot"};

TEST(BatchingTest, SameTokensAloneAndAmidFifteenStreams) {
  TestServer server({});
  auto stub = server.NewStub();
  for (float temperature : {0.0f, 0.9f}) {
    SCOPED_TRACE("temperature " + std::to_string(temperature));
    const v1::GenerateRequest probe = SampledRequest("Once upon a time", 150, temperature, 4242);
    const StreamResult alone = CallGenerate(*stub, probe);
    ASSERT_TRUE(alone.status.ok()) << alone.status.error_message();

    std::vector<StreamResult> others(15);
    std::vector<std::thread> threads;
    for (int i = 0; i < 15; ++i) {
      threads.emplace_back([&, i] {
        auto own_stub = server.NewStub();
        others[i] = CallGenerate(*own_stub, SampledRequest(kPrompts[i % 5], 80 + 9 * i, 1.0f, i));
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const StreamResult batched = CallGenerate(*stub, probe);
    for (auto& thread : threads) thread.join();

    ASSERT_TRUE(batched.status.ok()) << batched.status.error_message();
    EXPECT_EQ(batched.TokenIds(), alone.TokenIds());
    EXPECT_EQ(batched.Text(), alone.Text());
    for (const StreamResult& other : others) {
      EXPECT_TRUE(other.status.ok()) << other.status.error_message();
    }
  }
}

TEST(BatchingTest, FullServerAnswersResourceExhaustedAtOnce) {
  testing::EngineGate gate;
  SchedulerOptions limits;
  limits.max_running = 1;
  limits.max_waiting = 1;
  limits.step_observer = gate.Observer();
  TestServer server(limits);

  // Hold the engine while one request runs and one waits.
  gate.Close();
  std::vector<StreamResult> busy(2);
  std::thread running([&] {
    auto stub = server.NewStub();
    busy[0] = CallGenerate(*stub, SampledRequest("Once", 50, 1.0f, 1));
  });
  ASSERT_TRUE(gate.WaitForStep());
  std::thread waiting([&] {
    auto stub = server.NewStub();
    busy[1] = CallGenerate(*stub, SampledRequest("Once", 50, 1.0f, 2));
  });
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (server.scheduler().waiting() < 1 && absl::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(server.scheduler().waiting(), 1);

  // A third call is turned away at once, while the engine is still held.
  auto stub = server.NewStub();
  const StreamResult rejected = CallGenerate(*stub, SampledRequest("Once", 5, 1.0f, 9));
  EXPECT_EQ(rejected.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(rejected.status.error_message(), HasSubstr("--max-waiting"));

  gate.Open();
  running.join();
  waiting.join();
  for (const StreamResult& result : busy) {
    EXPECT_TRUE(result.status.ok()) << result.status.error_message();
    EXPECT_EQ(result.completions.at(0).generated_tokens(), 50u);
  }
}

TEST(BatchingTest, CancelledStreamReturnsItsBlocks) {
  TestServer server({});
  auto stub = server.NewStub();
  grpc::ClientContext context;
  auto reader = stub->Generate(&context, SampledRequest("Once upon a time", 500, 1.0f, 3));
  v1::GenerateResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_GT(server.scheduler().kv_blocks_used(), 0);

  context.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  for (int i = 0; i < 2500 && server.scheduler().kv_blocks_used() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(server.scheduler().kv_blocks_used(), 0);
  EXPECT_EQ(server.scheduler().running(), 0);
}

TEST(BatchingTest, ClientThatStopsReadingDoesNotSlowOthers) {
  TestServer server({});
  // The slow client opens its stream and reads nothing for a while.
  auto slow_stub = server.NewStub();
  grpc::ClientContext slow_context;
  const v1::GenerateRequest slow_request = SampledRequest("Once upon a time", 400, 1.0f, 21);
  auto slow_reader = slow_stub->Generate(&slow_context, slow_request);

  // Meanwhile another client runs three whole requests.
  auto stub = server.NewStub();
  for (int i = 0; i < 3; ++i) {
    const StreamResult fast = CallGenerate(*stub, SampledRequest("The cat", 300, 1.0f, 30 + i));
    ASSERT_TRUE(fast.status.ok()) << fast.status.error_message();
    EXPECT_EQ(fast.completions.at(0).generated_tokens(), 300u);
  }

  // The slow stream then reads all of it, complete and in order.
  StreamResult slow;
  v1::GenerateResponse response;
  while (slow_reader->Read(&response)) {
    if (response.has_chunk()) slow.chunks.push_back(response.chunk());
    if (response.has_complete()) slow.completions.push_back(response.complete());
  }
  ASSERT_TRUE(slow_reader->Finish().ok());
  EXPECT_EQ(slow.TokenIds().size(), 400u);
  EXPECT_EQ(slow.TokenIds(), CallGenerate(*stub, slow_request).TokenIds());
}

}  // namespace
}  // namespace textgen
