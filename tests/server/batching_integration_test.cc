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
#include <optional>
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
  explicit TestServer(const SchedulerOptions& scheduler_options,
                      std::optional<WeightType> weight_type = std::nullopt) {
    ModelFiles files;
    files.model_path = testing::SharedPath("models/stories260K/stories260K.bin");
    files.tokenizer_path = testing::SharedPath("models/stories260K/tok512.bin");
    files.weight_type = weight_type;
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
  const Model& model() const { return *model_->model; }

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

// Runs `requests` alone, one after another, then all at once, and checks
// that every stream got the same tokens both ways.
void ExpectSameTokensAloneAndTogether(TestServer& server,
                                      const std::vector<v1::GenerateRequest>& requests) {
  auto stub = server.NewStub();
  std::vector<StreamResult> alone;
  for (const v1::GenerateRequest& request : requests) alone.push_back(CallGenerate(*stub, request));

  std::vector<StreamResult> together(requests.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < requests.size(); ++i) {
    threads.emplace_back([&, i] {
      auto own_stub = server.NewStub();
      together[i] = CallGenerate(*own_stub, requests[i]);
    });
  }
  for (auto& thread : threads) thread.join();

  for (size_t i = 0; i < requests.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    ASSERT_TRUE(alone[i].status.ok()) << alone[i].status.error_message();
    ASSERT_TRUE(together[i].status.ok()) << together[i].status.error_message();
    EXPECT_EQ(together[i].TokenIds(), alone[i].TokenIds());
    EXPECT_EQ(together[i].TokenIds().size(), requests[i].stopping().max_new_tokens());
  }
}

TEST(BatchingTest, KvCacheRunningOutPreemptsAndResumes) {
  // 12 blocks of 16 positions cannot hold four sequences of about 125
  // positions, so some are preempted and recomputed while the others run.
  SchedulerOptions small;
  TestServer probe({});
  small.kv_cache_bytes = 12 * probe.model().kv_layout(16).block_bytes();
  TestServer server(small);
  ASSERT_EQ(server.scheduler().kv_blocks_total(), 12);

  std::vector<v1::GenerateRequest> requests;
  for (int i = 0; i < 4; ++i) requests.push_back(SampledRequest(kPrompts[i], 120, 1.0f, 50 + i));
  ExpectSameTokensAloneAndTogether(server, requests);
  EXPECT_GT(server.scheduler().preemptions(), 0);
  EXPECT_EQ(server.scheduler().kv_blocks_used(), 0);
}

TEST(BatchingTest, Bf16WeightsBatchInvariantly) {
  TestServer server({}, WeightType::kBF16);
  auto stub = server.NewStub();
  grpc::ClientContext context;
  v1::ModelInfo info;
  ASSERT_TRUE(stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_EQ(info.weight_type(), "bf16");

  std::vector<v1::GenerateRequest> requests;
  for (int i = 0; i < 6; ++i) requests.push_back(SampledRequest(kPrompts[i % 5], 60, 0.8f, 70 + i));
  ExpectSameTokensAloneAndTogether(server, requests);
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
