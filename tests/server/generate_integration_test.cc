// The Generate and GetModelInfo RPCs over real loopback gRPC: an in-process
// server on an ephemeral port, and the textgen-server and textgen-client
// executables as separate processes.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <utility>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "engine/model/model_loader.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "server/generation_service.h"
#include "tests/process.h"
#include "tests/server/generate_call.h"
#include "tests/test_paths.h"
#include "textgen/v1/textgen.grpc.pb.h"

namespace textgen {
namespace {

using ::testing::HasSubstr;
using testing::Process;

const std::string kModel = testing::SharedPath("models/stories260K/stories260K.bin");
const std::string kTokenizer = testing::SharedPath("models/stories260K/tok512.bin");

// The reference greedy continuations of llama2.c's run.c.
std::vector<nlohmann::json> ReferenceCases() {
  std::vector<nlohmann::json> cases;
  std::ifstream in(testing::SharedPath("reference/stories260K-greedy.jsonl"));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) cases.push_back(nlohmann::json::parse(line));
  }
  return cases;
}

class GenerateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ModelFiles files;
    files.model_path = kModel;
    files.tokenizer_path = kTokenizer;
    absl::StatusOr<LoadedModel> loaded = LoadModel(files);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    loaded_ = new LoadedModel(*std::move(loaded));
    ServiceOptions options;
    options.default_max_new_tokens = 20;
    service_ = new GenerationService(*loaded_, options);
    absl::StatusOr<RunningServer> running = StartGrpcServer(service_, "127.0.0.1:0");
    ASSERT_TRUE(running.ok()) << running.status();
    running_ = new RunningServer(*std::move(running));
  }

  static void TearDownTestSuite() {
    running_->server->Shutdown();
    delete running_;
    delete service_;
    delete loaded_;
  }

  static std::unique_ptr<v1::TextGeneration::Stub> NewStub() {
    return v1::TextGeneration::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(running_->port), grpc::InsecureChannelCredentials()));
  }

  static v1::GenerateRequest GreedyRequest(const std::string& prompt, uint32_t max_new_tokens) {
    v1::GenerateRequest request;
    request.set_prompt(prompt);
    request.mutable_stopping()->set_max_new_tokens(max_new_tokens);
    return request;
  }

  static StreamResult Call(const v1::GenerateRequest& request,
                           grpc::ClientContext* context = nullptr) {
    return CallGenerate(*NewStub(), request, context);
  }

  static LoadedModel* loaded_;
  static GenerationService* service_;
  static RunningServer* running_;
};

LoadedModel* GenerateTest::loaded_ = nullptr;
GenerationService* GenerateTest::service_ = nullptr;
RunningServer* GenerateTest::running_ = nullptr;

TEST_F(GenerateTest, StreamsReferenceTokensThenCompletion) {
  const nlohmann::json reference = ReferenceCases().at(0);
  v1::GenerateRequest request = GreedyRequest(reference["prompt"], 1000);
  request.set_request_id("story-1");

  StreamResult result = Call(request);

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  std::vector<int32_t> expected = reference["generated_token_ids"];
  EXPECT_EQ(result.TokenIds(), expected);
  EXPECT_EQ(result.Text(), reference["continuation"].get<std::string>());
  // Streamed as generated: many chunks, each with at least one token (a
  // reader slower than the engine gets several tokens per chunk).
  EXPECT_GT(result.chunks.size(), expected.size() / 4);
  for (const auto& chunk : result.chunks) EXPECT_GE(chunk.token_ids_size(), 1);

  ASSERT_EQ(result.completions.size(), 1u);
  EXPECT_TRUE(result.completion_was_last);
  const v1::Completion& completion = result.completions[0];
  EXPECT_EQ(completion.finish_reason(), v1::FINISH_REASON_EOS);
  EXPECT_EQ(completion.prompt_tokens(), reference["prompt_token_ids"].size());
  EXPECT_EQ(completion.generated_tokens(), expected.size());
  EXPECT_EQ(completion.request_id(), "story-1");
}

TEST_F(GenerateTest, PromptTokenIdsGiveSameTokensAsText) {
  const nlohmann::json reference = ReferenceCases().at(2);
  v1::GenerateRequest request;
  for (int32_t id : reference["prompt_token_ids"]) request.add_prompt_token_ids(id);
  request.mutable_stopping()->set_max_new_tokens(30);

  StreamResult result = Call(request);

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  std::vector<int32_t> expected = reference["generated_token_ids"];
  expected.resize(30);
  EXPECT_EQ(result.TokenIds(), expected);
}

TEST_F(GenerateTest, MaxNewTokensEndsWithLength) {
  const nlohmann::json reference = ReferenceCases().at(0);
  StreamResult result = Call(GreedyRequest(reference["prompt"], 7));

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  std::vector<int32_t> expected = reference["generated_token_ids"];
  expected.resize(7);
  EXPECT_EQ(result.TokenIds(), expected);
  ASSERT_EQ(result.completions.size(), 1u);
  EXPECT_EQ(result.completions[0].finish_reason(), v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(result.completions[0].generated_tokens(), 7u);
}

TEST_F(GenerateTest, ZeroMaxNewTokensUsesServerDefault) {
  StreamResult result = Call(GreedyRequest("Once upon a time", 0));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.completions.size(), 1u);
  // The fixture's server default is 20, and this story runs far longer.
  EXPECT_EQ(result.completions[0].generated_tokens(), 20u);
  EXPECT_EQ(result.completions[0].finish_reason(), v1::FINISH_REASON_LENGTH);
}

TEST_F(GenerateTest, FullContextEndsWithLength) {
  // 510 prompt tokens leave room to sample 513 - 510 = 3 tokens (the last
  // one after position 511) before the 512-position context is full.
  v1::GenerateRequest request;
  request.add_prompt_token_ids(1);
  for (int i = 1; i < 510; ++i) request.add_prompt_token_ids(300 + i % 100);
  request.mutable_stopping()->set_max_new_tokens(100);
  request.mutable_stopping()->set_ignore_eos(true);

  StreamResult result = Call(request);

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.completions.size(), 1u);
  EXPECT_EQ(result.completions[0].finish_reason(), v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(result.completions[0].generated_tokens(), 3u);
  EXPECT_EQ(result.completions[0].prompt_tokens(), 510u);
}

TEST_F(GenerateTest, SeedIsReportedAndReplays) {
  v1::GenerateRequest request = GreedyRequest("The cat sat", 25);
  request.mutable_sampling()->set_temperature(1.0f);
  request.mutable_sampling()->set_top_p(0.9f);

  StreamResult first = Call(request);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  ASSERT_EQ(first.completions.size(), 1u);
  const uint64_t seed = first.completions[0].seed();

  request.mutable_sampling()->set_seed(seed);
  StreamResult replay = Call(request);
  ASSERT_TRUE(replay.status.ok()) << replay.status.error_message();
  ASSERT_EQ(replay.completions.size(), 1u);
  EXPECT_EQ(replay.completions[0].seed(), seed);
  EXPECT_EQ(replay.TokenIds(), first.TokenIds());
}

TEST_F(GenerateTest, DifferentSeedsDiffer) {
  v1::GenerateRequest request = GreedyRequest("The cat sat", 40);
  request.mutable_sampling()->set_temperature(1.0f);
  request.mutable_sampling()->set_seed(1);
  StreamResult a = Call(request);
  request.mutable_sampling()->set_seed(2);
  StreamResult b = Call(request);
  ASSERT_TRUE(a.status.ok()) << a.status.error_message();
  ASSERT_TRUE(b.status.ok()) << b.status.error_message();
  EXPECT_NE(a.TokenIds(), b.TokenIds());
}

TEST_F(GenerateTest, ChineseAndEmojiPromptStreamsValidText) {
  // A text prompt of characters outside the vocabulary goes through byte
  // fallback. Every chunk must still be valid UTF-8, which protobuf checks
  // when it parses a proto3 string on the client.
  v1::GenerateRequest request = GreedyRequest("从前有一只小猫。🙂", 60);
  request.mutable_sampling()->set_temperature(1.0f);
  request.mutable_sampling()->set_seed(5);
  StreamResult result = Call(request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.completions.size(), 1u);
}

struct InvalidCase {
  const char* name;
  std::function<void(v1::GenerateRequest&)> mutate;
  const char* field;
};

TEST_F(GenerateTest, InvalidArgumentsNameTheField) {
  const std::vector<InvalidCase> cases = {
      {"negative temperature", [](auto& r) { r.mutable_sampling()->set_temperature(-0.5f); },
       "sampling.temperature"},
      {"NaN temperature", [](auto& r) { r.mutable_sampling()->set_temperature(NAN); },
       "sampling.temperature"},
      {"top_p above 1", [](auto& r) { r.mutable_sampling()->set_top_p(1.5f); }, "sampling.top_p"},
      {"negative top_p", [](auto& r) { r.mutable_sampling()->set_top_p(-0.1f); },
       "sampling.top_p"},
      {"negative top_k", [](auto& r) { r.mutable_sampling()->set_top_k(-3); }, "sampling.top_k"},
      {"both prompts", [](auto& r) { r.add_prompt_token_ids(1); }, "prompt_token_ids"},
      {"neither prompt", [](auto& r) { r.clear_prompt(); }, "prompt_token_ids"},
      // 256 KiB is the cap, checked before the text is tokenized.
      {"prompt over 256 KiB", [](auto& r) { r.set_prompt(std::string(256 * 1024 + 1, 'a')); },
       "prompt is 262145 bytes"},
      {"id above vocabulary",
       [](auto& r) {
         r.clear_prompt();
         r.add_prompt_token_ids(1);
         r.add_prompt_token_ids(512);
       },
       "prompt_token_ids[1]"},
      {"negative id",
       [](auto& r) {
         r.clear_prompt();
         r.add_prompt_token_ids(-1);
       },
       "prompt_token_ids[0]"},
      {"too many ids",
       [](auto& r) {
         r.clear_prompt();
         for (int i = 0; i < 513; ++i) r.add_prompt_token_ids(300);
       },
       "prompt_token_ids has 513 tokens"},
      {"text over the context",
       [](auto& r) {
         std::string long_prompt;
         for (int i = 0; i < 400; ++i) long_prompt += "cat dog ";
         r.set_prompt(long_prompt);
       },
       "prompt has"},
      {"request id too long", [](auto& r) { r.set_request_id(std::string(300, 'x')); },
       "request_id"},
  };
  for (const InvalidCase& c : cases) {
    SCOPED_TRACE(c.name);
    v1::GenerateRequest request = GreedyRequest("Once upon a time", 5);
    c.mutate(request);
    StreamResult result = Call(request);
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(result.status.error_message(), HasSubstr(c.field));
    EXPECT_TRUE(result.chunks.empty());
  }

  // The server keeps serving after all of them.
  StreamResult after = Call(GreedyRequest("Once upon a time", 3));
  EXPECT_TRUE(after.status.ok()) << after.status.error_message();
}

TEST_F(GenerateTest, CancelMidStreamStopsGeneration) {
  v1::GenerateRequest request = GreedyRequest("Once upon a time", 500);
  request.mutable_stopping()->set_ignore_eos(true);
  const int64_t cancelled_before = service_->cancelled_requests();

  grpc::ClientContext context;
  auto stub = NewStub();
  auto reader = stub->Generate(&context, request);
  v1::GenerateResponse response;
  int chunks = 0;
  while (chunks < 3 && reader->Read(&response)) ++chunks;
  ASSERT_EQ(chunks, 3);
  context.TryCancel();
  while (reader->Read(&response)) {
    ASSERT_FALSE(response.has_complete()) << "a cancelled call got a Completion";
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

  // The server notices at its next step and frees the engine.
  for (int i = 0; i < 200 && service_->cancelled_requests() == cancelled_before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(service_->cancelled_requests(), cancelled_before + 1);
  StreamResult after = Call(GreedyRequest("Once upon a time", 3));
  EXPECT_TRUE(after.status.ok()) << after.status.error_message();
}

TEST_F(GenerateTest, ExpiredDeadlineEndsCall) {
  v1::GenerateRequest request = GreedyRequest("Once upon a time", 500);
  request.mutable_stopping()->set_ignore_eos(true);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(30));
  // Many requests of 500 tokens run well over 30 ms on the first call, so the
  // deadline passes mid-stream or while waiting.
  StreamResult result = Call(request, &context);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(result.completions.empty());
}

TEST_F(GenerateTest, ConcurrentClientsEachGetTheirOwnStream) {
  const std::vector<nlohmann::json> references = ReferenceCases();
  constexpr int kClients = 6;
  std::vector<StreamResult> results(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      const nlohmann::json& reference = references[i % references.size()];
      v1::GenerateRequest request;
      for (int32_t id : reference["prompt_token_ids"]) request.add_prompt_token_ids(id);
      request.mutable_stopping()->set_max_new_tokens(40 + i);
      results[i] = Call(request);
    });
  }
  for (auto& thread : threads) thread.join();

  for (int i = 0; i < kClients; ++i) {
    SCOPED_TRACE("client " + std::to_string(i));
    ASSERT_TRUE(results[i].status.ok()) << results[i].status.error_message();
    std::vector<int32_t> expected = references[i % references.size()]["generated_token_ids"];
    expected.resize(40 + i);
    EXPECT_EQ(results[i].TokenIds(), expected);
    ASSERT_EQ(results[i].completions.size(), 1u);
    EXPECT_EQ(results[i].completions[0].generated_tokens(), 40u + i);
  }
}

TEST_F(GenerateTest, HealthCheckReportsServing) {
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(running_->port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = health->Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(GenerateTest, BusyPortIsRejected) {
  const std::string address = "127.0.0.1:" + std::to_string(running_->port);
  absl::StatusOr<RunningServer> second = StartGrpcServer(service_, address);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("port is in use"));
  EXPECT_THAT(second.status().message(), HasSubstr(address));
}

TEST_F(GenerateTest, ModelInfoDescribesStories260K) {
  auto stub = NewStub();
  grpc::ClientContext context;
  v1::ModelInfo info;
  grpc::Status status = stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(info.name(), "stories260K");
  EXPECT_EQ(info.architecture(), "llama");
  EXPECT_EQ(info.context_length(), 512u);
  EXPECT_EQ(info.vocab_size(), 512u);
  EXPECT_EQ(info.weight_type(), "f32");
  // 512*64 embedding + 5 layers * (2*64 norms + 2*64*64 wq,wo + 2*64*32
  // wk,wv + 3*64*172 feed-forward) + 64 final norm.
  EXPECT_EQ(info.parameter_count(), 512u * 64 + 5u * (128 + 8192 + 4096 + 33024) + 64);
}

TEST(ExecutablesTest, HealthIsNotServingWhileTheModelLoads) {
  // A FIFO as the model file keeps the server in its model load, because
  // opening a FIFO for reading waits until a writer opens it.
  char folder[] = "/tmp/textgen-loading-XXXXXX";
  ASSERT_NE(mkdtemp(folder), nullptr);
  const std::string fifo = std::string(folder) + "/model.gguf";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  Process server({testing::BinaryDir() + "/server/textgen-server", "--metrics-listen", "",
                  "--model", fifo, "--listen", "127.0.0.1:0"});
  const std::string port =
      server.WaitForStderrLine(std::regex(R"(NOT_SERVING while the model loads.* port=(\d+))"));
  ASSERT_FALSE(port.empty()) << "textgen-server did not report its port";
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + port, grpc::InsecureChannelCredentials());

  grpc::ClientContext health_context;
  grpc::health::v1::HealthCheckResponse health;
  const grpc::Status health_status = grpc::health::v1::Health::NewStub(channel)->Check(
      &health_context, grpc::health::v1::HealthCheckRequest(), &health);
  ASSERT_TRUE(health_status.ok()) << health_status.error_message();
  EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);

  auto stub = v1::TextGeneration::NewStub(channel);
  v1::GenerateRequest request;
  request.set_prompt("Once upon a time");
  const StreamResult result = CallGenerate(*stub, request);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(result.status.error_message(), HasSubstr("still loading"));

  // Opening the FIFO for writing lets the load go on, and it fails because
  // a FIFO is not a model file. Nothing is written: the server may close its
  // end first, and a write would then raise SIGPIPE here. The channel closes
  // first, so the server's shutdown has no connection to wait for.
  stub.reset();
  channel.reset();
  const int writer = open(fifo.c_str(), O_WRONLY);
  ASSERT_GE(writer, 0);
  close(writer);
  EXPECT_EQ(server.Wait(), 1);
  std::filesystem::remove_all(folder);
}

TEST(ExecutablesTest, ClientStreamsReferenceStoryFromServer) {
  const std::string bin = testing::BinaryDir();
  Process server({bin + "/server/textgen-server", "--metrics-listen", "", "--model", kModel,
                  "--tokenizer", kTokenizer, "--listen", "127.0.0.1:0", "--threads", "1"});
  const std::string port =
      server.WaitForStderrLine(testing::ServingLine());
  ASSERT_FALSE(port.empty()) << "textgen-server did not report its port";

  Process client({bin + "/client/textgen-client", "--addr", "127.0.0.1:" + port, "--max-new-tokens",
                  "1000", "Once upon a time"});
  const std::string text = client.ReadAllStdout();
  EXPECT_EQ(client.Wait(), 0);

  // The client ends the text with a newline when the story does not.
  const std::string expected = ReferenceCases().at(0)["continuation"].get<std::string>() + "\n";
  EXPECT_EQ(text, expected);

  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(), 0);
}

TEST(ExecutablesTest, DefaultModelTellsStoryThatEndsByItself) {
  const std::string bin = testing::BinaryDir();
  Process server(
      {bin + "/server/textgen-server", "--metrics-listen", "", "--listen", "127.0.0.1:0"});
  const std::string port =
      server.WaitForStderrLine(testing::ServingLine());
  ASSERT_FALSE(port.empty()) << "textgen-server did not report its port";

  Process client({bin + "/client/textgen-client", "--addr", "127.0.0.1:" + port, "--max-new-tokens",
                  "400", "Once upon a time"});
  const std::string text = client.ReadAllStdout();
  const std::string summary = client.WaitForStderrLine(std::regex("(finish_reason=\\S+)"));
  EXPECT_EQ(client.Wait(), 0);
  EXPECT_EQ(summary, "finish_reason=FINISH_REASON_EOS");
  EXPECT_GT(text.size(), 20u);

  server.Signal(SIGINT);
  EXPECT_EQ(server.Wait(), 0);
}

TEST(ExecutablesTest, ServerExitsWithMessageOnBadModel) {
  const std::string bin = testing::BinaryDir();
  Process server({bin + "/server/textgen-server", "--metrics-listen", "", "--model", kTokenizer,
                  "--tokenizer", kTokenizer, "--listen", "127.0.0.1:0"});
  const std::string message = server.WaitForStderrLine(std::regex("(cannot load the model: .*)"));
  EXPECT_THAT(message, HasSubstr(kTokenizer));
  EXPECT_EQ(server.Wait(), 1);
}

TEST(ExecutablesTest, ClientHealthExitsZeroWhenServing) {
  const std::string bin = testing::BinaryDir();
  Process server(
      {bin + "/server/textgen-server", "--metrics-listen", "", "--listen", "127.0.0.1:0"});
  const std::string port =
      server.WaitForStderrLine(testing::ServingLine());
  ASSERT_FALSE(port.empty()) << "textgen-server did not report its port";

  Process client({bin + "/client/textgen-client", "--addr", "127.0.0.1:" + port, "health"});
  EXPECT_EQ(client.ReadAllStdout(), "SERVING\n");
  EXPECT_EQ(client.Wait(), 0);

  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(), 0);
}

// A server whose requests can run for minutes: stories260K with its context
// stretched far beyond the 512 positions it was trained on.
std::vector<std::string> LongRunningServer(const std::string& drain_timeout) {
  return {testing::BinaryDir() + "/server/textgen-server",
          "--metrics-listen",
          "",
          "--model",
          kModel,
          "--tokenizer",
          kTokenizer,
          "--context-length",
          "100000",
          "--drain-timeout",
          drain_timeout,
          "--listen",
          "127.0.0.1:0"};
}

std::vector<std::string> LongStory(const std::string& port) {
  return {testing::BinaryDir() + "/client/textgen-client",
          "--addr",
          "127.0.0.1:" + port,
          "--max-new-tokens",
          "90000",
          "--ignore-eos",
          "Once upon a time"};
}

TEST(ExecutablesTest, DrainEndsLongStreamWithCancelledCompletion) {
  Process server(LongRunningServer("0.3"));
  const std::string port =
      server.WaitForStderrLine(testing::ServingLine());
  ASSERT_FALSE(port.empty()) << "textgen-server did not report its port";

  Process client(LongStory(port));
  ASSERT_TRUE(client.WaitForStdout());
  server.Signal(SIGTERM);

  // The stream ends with a Completion, so the client prints its summary.
  const std::string summary = client.WaitForStderrLine(std::regex("(finish_reason=\\S+)"));
  EXPECT_EQ(summary, "finish_reason=FINISH_REASON_CANCELLED");
  EXPECT_EQ(client.Wait(), 0);
  EXPECT_EQ(server.Wait(), 0);
}

TEST(ExecutablesTest, DrainingServerRefusesNewCalls) {
  Process server(LongRunningServer("3"));
  const std::string port =
      server.WaitForStderrLine(testing::ServingLine());
  ASSERT_FALSE(port.empty()) << "textgen-server did not report its port";

  Process long_client(LongStory(port));
  ASSERT_TRUE(long_client.WaitForStdout());
  server.Signal(SIGTERM);
  ASSERT_FALSE(server.WaitForStderrLine(std::regex("(draining: )")).empty());

  // During the drain, health reports NOT_SERVING and a new call is rejected.
  Process health(
      {testing::BinaryDir() + "/client/textgen-client", "--addr", "127.0.0.1:" + port, "health"});
  const std::string status = health.ReadAllStdout();
  EXPECT_EQ(health.Wait(), 1) << status;
  Process late({testing::BinaryDir() + "/client/textgen-client", "--addr", "127.0.0.1:" + port,
                "--max-new-tokens", "5", "Once"});
  const std::string refusal = late.WaitForStderrLine(std::regex("(Generate failed: \\S+)"));
  EXPECT_EQ(refusal, "Generate failed: UNAVAILABLE:");
  EXPECT_EQ(late.Wait(), 1);

  // The long stream runs until the drain time is over.
  const std::string summary = long_client.WaitForStderrLine(std::regex("(finish_reason=\\S+)"));
  EXPECT_EQ(summary, "finish_reason=FINISH_REASON_CANCELLED");
  EXPECT_EQ(server.Wait(), 0);
}

TEST(ExecutablesTest, ClientRejectsAddressWithoutValidPort) {
  for (const char* address : {"127.0.0.1:99999", "127.0.0.1", "localhost:0"}) {
    SCOPED_TRACE(address);
    Process client({testing::BinaryDir() + "/client/textgen-client", "--addr", address, "hi"});
    const std::string message = client.WaitForStderrLine(std::regex("(invalid --addr=.*)"));
    EXPECT_THAT(message, HasSubstr(address));
    EXPECT_EQ(client.Wait(), 2);
  }
}

TEST(ExecutablesTest, ServerNamesFileThatIsNoModel) {
  const std::string path = testing::SourceDir() + "/README.md";
  Process server({testing::BinaryDir() + "/server/textgen-server", "--metrics-listen", "",
                  "--model", path, "--listen", "127.0.0.1:0"});
  const std::string message = server.WaitForStderrLine(std::regex("(cannot load the model: .*)"));
  EXPECT_THAT(message, HasSubstr(path));
  EXPECT_THAT(message, HasSubstr("not a GGUF file"));
  EXPECT_EQ(server.Wait(), 1);
}

TEST(ExecutablesTest, ServerExitsWithMessageOnTruncatedGguf) {
  std::ifstream in(testing::SharedPath("models/stories260K/stories260K.gguf"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string path = ::testing::TempDir() + "/truncated.gguf";
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() / 3);

  const std::string bin = testing::BinaryDir();
  Process server({bin + "/server/textgen-server", "--metrics-listen", "", "--model", path,
                  "--listen", "127.0.0.1:0"});
  const std::string message = server.WaitForStderrLine(std::regex("(cannot load the model: .*)"));
  EXPECT_THAT(message, HasSubstr(path));
  EXPECT_EQ(server.Wait(), 1);
}

}  // namespace
}  // namespace textgen
