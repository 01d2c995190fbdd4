// Sampling controls and log-probabilities over real loopback gRPC, on the
// embedded model. Expected values come from the torch golden logits in
// tests/data/embedded-golden.json: the test computes log-softmax, the
// penalties and the bias on them itself, in double precision.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "engine/model/model_loader.h"
#include "nlohmann/json.hpp"
#include "server/generation_service.h"
#include "tests/server/generate_call.h"
#include "tests/test_paths.h"
#include "textgen/v1/textgen.grpc.pb.h"

namespace textgen {
namespace {

using ::testing::HasSubstr;

// Golden logits agree with the engine's within 1e-4, so log-probabilities
// computed from them agree within a few times that.
constexpr double kLogprobTolerance = 1e-3;

// Returns log_softmax(logits / temperature), in double precision:
//   logprob[i] = (x[i] - max) / T - log(sum_j exp((x[j] - max) / T)).
std::vector<double> LogSoftmax(const std::vector<double>& logits, double temperature) {
  const double max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (double x : logits) sum += std::exp((x - max_logit) / temperature);
  const double log_sum = std::log(sum);
  std::vector<double> result(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    result[i] = (logits[i] - max_logit) / temperature - log_sum;
  }
  return result;
}

// Token ids ordered from the largest value to the smallest.
std::vector<int32_t> RankByValue(const std::vector<double>& values) {
  std::vector<int32_t> ids(values.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return values[a] > values[b]; });
  return ids;
}

// The penalties as the proto documents them, written out independently of
// the engine: for each distinct token in the last `window` tokens (0 for
// all) that occurs c times, x -> x / r if x > 0 else x * r, then
// x -= presence * [c > 0] + frequency * c.
std::vector<double> Penalize(std::vector<double> logits, const std::vector<int32_t>& history,
                             size_t window, double repetition, double presence,
                             double frequency) {
  const size_t start = window == 0 || window >= history.size() ? 0 : history.size() - window;
  std::map<int32_t, int> counts;
  for (size_t i = start; i < history.size(); ++i) ++counts[history[i]];
  for (const auto& [token, count] : counts) {
    double& x = logits[token];
    if (repetition != 0.0) x = x > 0 ? x / repetition : x * repetition;
    x -= presence + frequency * count;
  }
  return logits;
}

// One case of the golden file: prompt token ids and last-position logits.
struct GoldenLogits {
  std::string prompt;
  std::vector<int32_t> token_ids;
  std::vector<double> logits;  // [vocab_size]
};

class SamplingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::ifstream in(testing::SourceDir() + "/tests/data/embedded-golden.json");
    ASSERT_TRUE(in.good()) << "missing tests/data/embedded-golden.json";
    const nlohmann::json golden = nlohmann::json::parse(in);
    golden_ = new std::vector<GoldenLogits>();
    for (const auto& c : golden["logits"]) {
      golden_->push_back({c["prompt"], c["token_ids"], c["last_logits"]});
    }

    ModelFiles files;
    files.model_path = testing::SourceDir() + "/" + golden["model"].get<std::string>();
    absl::StatusOr<LoadedModel> loaded = LoadModel(files);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    loaded_ = new LoadedModel(*std::move(loaded));
    service_ = new GenerationService(*loaded_, ServiceOptions{});
    absl::StatusOr<RunningServer> running = StartGrpcServer(service_, "127.0.0.1:0");
    ASSERT_TRUE(running.ok()) << running.status();
    running_ = new RunningServer(*std::move(running));
  }

  static void TearDownTestSuite() {
    running_->server->Shutdown();
    delete running_;
    delete service_;
    delete loaded_;
    delete golden_;
  }

  static StreamResult Call(const v1::GenerateRequest& request) {
    auto stub = v1::TextGeneration::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(running_->port), grpc::InsecureChannelCredentials()));
    return CallGenerate(*stub, request);
  }

  // A request for one token after the golden case's prompt.
  static v1::GenerateRequest FirstTokenRequest(const GoldenLogits& c) {
    v1::GenerateRequest request;
    for (int32_t id : c.token_ids) request.add_prompt_token_ids(id);
    request.mutable_stopping()->set_max_new_tokens(1);
    request.mutable_stopping()->set_ignore_eos(true);
    return request;
  }

  // Returns the log-probabilities of every chunk, in order.
  static std::vector<v1::TokenLogprob> AllLogprobs(const StreamResult& result) {
    std::vector<v1::TokenLogprob> all;
    for (const v1::TokenChunk& chunk : result.chunks) {
      all.insert(all.end(), chunk.logprobs().begin(), chunk.logprobs().end());
    }
    return all;
  }

  // Checks a token's log-probability and its top list against `expected`,
  // the log-probabilities over the vocabulary computed by the test.
  static void ExpectLogprobsMatch(const v1::TokenLogprob& logprob,
                                  const std::vector<double>& expected, size_t top_count) {
    EXPECT_NEAR(logprob.logprob(), expected[logprob.token_id()], kLogprobTolerance);

    const std::vector<int32_t> ranked = RankByValue(expected);
    ASSERT_EQ(static_cast<size_t>(logprob.top_size()), top_count);
    for (int k = 0; k < logprob.top_size(); ++k) {
      SCOPED_TRACE(::testing::Message() << "top[" << k << "]");
      const v1::TopLogprob& top = logprob.top(k);
      EXPECT_NEAR(top.logprob(), expected[top.token_id()], kLogprobTolerance);
      // Near-ties may swap places, so the rank is checked by value.
      EXPECT_NEAR(top.logprob(), expected[ranked[k]], kLogprobTolerance);
      if (k > 0) {
        EXPECT_LE(top.logprob(), logprob.top(k - 1).logprob());
      }
      if (top.token_id() == logprob.token_id()) {
        EXPECT_EQ(top.logprob(), logprob.logprob());
      }
      // A byte-level BPE token's bytes do not depend on the token before it.
      EXPECT_EQ(top.piece(), loaded_->tokenizer->TokenBytes(-1, top.token_id()));
    }
  }

  // Checks that `result` generated one token, whose log-probabilities match
  // `expected`.
  static void ExpectFirstLogprobsMatch(const StreamResult& result,
                                       const std::vector<double>& expected, size_t top_count) {
    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    const std::vector<int32_t> ids = result.TokenIds();
    const std::vector<v1::TokenLogprob> logprobs = AllLogprobs(result);
    ASSERT_EQ(ids.size(), 1u);
    ASSERT_EQ(logprobs.size(), 1u);
    EXPECT_EQ(logprobs[0].token_id(), ids[0]);
    ExpectLogprobsMatch(logprobs[0], expected, top_count);
  }

  static std::vector<GoldenLogits>* golden_;
  static LoadedModel* loaded_;
  static GenerationService* service_;
  static RunningServer* running_;
};

std::vector<GoldenLogits>* SamplingTest::golden_ = nullptr;
LoadedModel* SamplingTest::loaded_ = nullptr;
GenerationService* SamplingTest::service_ = nullptr;
RunningServer* SamplingTest::running_ = nullptr;

TEST_F(SamplingTest, LogprobsMatchGoldenLogSoftmax) {
  for (const GoldenLogits& c : *golden_) {
    for (const float temperature : {1.0f, 0.7f}) {
      SCOPED_TRACE(::testing::Message() << c.prompt << " at temperature " << temperature);
      v1::GenerateRequest request = FirstTokenRequest(c);
      request.mutable_sampling()->set_temperature(temperature);
      request.mutable_sampling()->set_seed(1234);
      request.mutable_sampling()->set_logprobs(true);
      request.mutable_sampling()->set_top_logprobs(5);

      ExpectFirstLogprobsMatch(Call(request), LogSoftmax(c.logits, temperature), 5);
    }
  }
}

TEST_F(SamplingTest, GreedyLogprobsUseTemperatureOne) {
  for (const GoldenLogits& c : *golden_) {
    SCOPED_TRACE(c.prompt);
    v1::GenerateRequest request = FirstTokenRequest(c);
    request.mutable_sampling()->set_logprobs(true);
    request.mutable_sampling()->set_top_logprobs(20);
    const std::vector<double> expected = LogSoftmax(c.logits, 1.0);

    StreamResult result = Call(request);

    ExpectFirstLogprobsMatch(result, expected, 20);
    ASSERT_FALSE(result.chunks.empty());
    EXPECT_EQ(result.chunks[0].token_ids(0), RankByValue(c.logits)[0]);
    EXPECT_EQ(result.chunks[0].logprobs(0).top(0).token_id(), result.chunks[0].token_ids(0));
  }
}

TEST_F(SamplingTest, EveryTokenOfStreamHasLogprob) {
  v1::GenerateRequest request;
  request.set_prompt("Once upon a time");
  request.mutable_stopping()->set_max_new_tokens(60);
  request.mutable_sampling()->set_logprobs(true);
  request.mutable_sampling()->set_top_logprobs(1);

  StreamResult result = Call(request);

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_FALSE(result.TokenIds().empty());
  std::string pieces;
  for (const v1::TokenChunk& chunk : result.chunks) {
    ASSERT_EQ(chunk.logprobs_size(), chunk.token_ids_size());
    for (int i = 0; i < chunk.token_ids_size(); ++i) {
      const v1::TokenLogprob& logprob = chunk.logprobs(i);
      EXPECT_EQ(logprob.token_id(), chunk.token_ids(i));
      EXPECT_LE(logprob.logprob(), 0.0f);
      ASSERT_EQ(logprob.top_size(), 1);
      // Greedy: the most likely token is the generated one.
      EXPECT_EQ(logprob.top(0).token_id(), logprob.token_id());
      pieces += logprob.top(0).piece();
    }
  }
  // The pieces of the generated tokens, joined, are the streamed text.
  EXPECT_EQ(pieces, result.Text());
}

TEST_F(SamplingTest, NoLogprobsUnlessRequested) {
  v1::GenerateRequest request;
  request.set_prompt("Once upon a time");
  request.mutable_stopping()->set_max_new_tokens(5);

  StreamResult result = Call(request);

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_FALSE(result.chunks.empty());
  for (const v1::TokenChunk& chunk : result.chunks) EXPECT_EQ(chunk.logprobs_size(), 0);
}

TEST_F(SamplingTest, NegativeBiasOnGreedyTokenGivesRunnerUp) {
  for (const GoldenLogits& c : *golden_) {
    SCOPED_TRACE(c.prompt);
    const std::vector<int32_t> ranked = RankByValue(c.logits);
    // The runner-up must be clear of the third token for the check to hold.
    if (c.logits[ranked[1]] - c.logits[ranked[2]] < 0.01) continue;
    v1::GenerateRequest request = FirstTokenRequest(c);
    (*request.mutable_sampling()->mutable_logit_bias())[ranked[0]] = -100.0f;

    StreamResult result = Call(request);

    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    EXPECT_EQ(result.TokenIds(), std::vector<int32_t>{ranked[1]});
  }
}

TEST_F(SamplingTest, PositiveBiasForcesToken) {
  for (const float temperature : {0.0f, 1.0f}) {
    SCOPED_TRACE(temperature);
    v1::GenerateRequest request;
    request.set_prompt("Once upon a time");
    request.mutable_stopping()->set_max_new_tokens(8);
    request.mutable_stopping()->set_ignore_eos(true);
    request.mutable_sampling()->set_temperature(temperature);
    (*request.mutable_sampling()->mutable_logit_bias())[300] = 100.0f;

    StreamResult result = Call(request);

    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    EXPECT_EQ(result.TokenIds(), std::vector<int32_t>(8, 300));
  }
}

// Penalty settings whose first token and log-probabilities the test
// computes from the golden logits.
struct PenaltyCase {
  const char* name;
  float repetition = 0.0f;
  float presence = 0.0f;
  float frequency = 0.0f;
  uint32_t window = 0;
  std::map<int32_t, float> bias;
};

TEST_F(SamplingTest, PenaltiesMatchHandComputedLogprobs) {
  // Token 11 is the greedy first token after "Once upon a time".
  const std::vector<PenaltyCase> cases = {
      {"repetition", 1.8f, 0.0f, 0.0f, 0, {}},
      {"repetition below 1", 0.5f, 0.0f, 0.0f, 0, {}},
      {"presence and frequency", 0.0f, 1.5f, 0.8f, 0, {}},
      {"window of 3", 5.0f, 0.0f, 1.0f, 3, {}},
      {"all with bias", 1.3f, 0.4f, -0.6f, 6, {{11, 2.0f}, {13, -1.5f}, {258, 3.0f}}},
  };
  int first_token_changed = 0;
  for (const PenaltyCase& p : cases) {
    for (const GoldenLogits& c : *golden_) {
      SCOPED_TRACE(::testing::Message() << p.name << ", " << c.prompt);
      std::vector<double> biased = c.logits;
      for (const auto& [token, bias] : p.bias) biased[token] += bias;
      const std::vector<double> adjusted =
          Penalize(biased, c.token_ids, p.window, p.repetition, p.presence, p.frequency);
      const std::vector<double> expected = LogSoftmax(adjusted, 1.0);

      v1::GenerateRequest request = FirstTokenRequest(c);
      v1::SamplingParams* sampling = request.mutable_sampling();
      sampling->set_repetition_penalty(p.repetition);
      sampling->set_presence_penalty(p.presence);
      sampling->set_frequency_penalty(p.frequency);
      sampling->set_penalty_window(p.window);
      for (const auto& [token, bias] : p.bias) (*sampling->mutable_logit_bias())[token] = bias;
      sampling->set_logprobs(true);
      sampling->set_top_logprobs(3);

      StreamResult result = Call(request);

      ExpectFirstLogprobsMatch(result, expected, 3);
      const std::vector<int32_t> ranked = RankByValue(expected);
      if (expected[ranked[0]] - expected[ranked[1]] > 0.01) {
        EXPECT_EQ(result.TokenIds(), std::vector<int32_t>{ranked[0]});
      }
      first_token_changed += ranked[0] != RankByValue(c.logits)[0];
    }
  }
  // The settings are strong enough to change the greedy choice somewhere.
  EXPECT_GT(first_token_changed, 0);
}

TEST_F(SamplingTest, PenaltiesCountGeneratedTokens) {
  // The prompt lacks the golden case's last token, and a bias of +100 makes
  // the server generate it first. The second token is then drawn from the
  // golden logits, and the penalty window ends with a generated token.
  const std::vector<PenaltyCase> cases = {
      {"window of 1", 3.0f, 0.0f, 1.5f, 1, {}},
      {"window of 4", 3.0f, 0.5f, 1.5f, 4, {}},
      {"whole sequence", 2.0f, 1.0f, 0.0f, 0, {}},
  };
  for (const PenaltyCase& p : cases) {
    for (const GoldenLogits& c : *golden_) {
      SCOPED_TRACE(::testing::Message() << p.name << ", " << c.prompt);
      const int32_t forced = c.token_ids.back();
      std::vector<double> biased = c.logits;
      biased[forced] += 100.0;
      const std::vector<double> expected = LogSoftmax(
          Penalize(biased, c.token_ids, p.window, p.repetition, p.presence, p.frequency), 1.0);

      v1::GenerateRequest request;
      for (size_t i = 0; i + 1 < c.token_ids.size(); ++i) {
        request.add_prompt_token_ids(c.token_ids[i]);
      }
      request.mutable_stopping()->set_max_new_tokens(2);
      request.mutable_stopping()->set_ignore_eos(true);
      v1::SamplingParams* sampling = request.mutable_sampling();
      sampling->set_repetition_penalty(p.repetition);
      sampling->set_presence_penalty(p.presence);
      sampling->set_frequency_penalty(p.frequency);
      sampling->set_penalty_window(p.window);
      (*sampling->mutable_logit_bias())[forced] = 100.0f;
      sampling->set_logprobs(true);
      sampling->set_top_logprobs(3);

      StreamResult result = Call(request);

      ASSERT_TRUE(result.status.ok()) << result.status.error_message();
      const std::vector<int32_t> ids = result.TokenIds();
      const std::vector<v1::TokenLogprob> logprobs = AllLogprobs(result);
      ASSERT_EQ(ids.size(), 2u);
      ASSERT_EQ(logprobs.size(), 2u);
      EXPECT_EQ(ids[0], forced);
      EXPECT_EQ(logprobs[1].token_id(), ids[1]);
      ExpectLogprobsMatch(logprobs[1], expected, 3);
    }
  }
}

TEST_F(SamplingTest, SettingsThatAreOffKeepTorchGreedyTokens) {
  std::ifstream in(testing::SourceDir() + "/tests/data/embedded-golden.json");
  const nlohmann::json golden = nlohmann::json::parse(in);
  for (const auto& c : golden["greedy"]) {
    SCOPED_TRACE(c["prompt"].get<std::string>());
    v1::GenerateRequest request;
    for (int32_t id : c["prompt_token_ids"]) request.add_prompt_token_ids(id);
    request.mutable_stopping()->set_max_new_tokens(c["max_new_tokens"]);
    v1::SamplingParams* sampling = request.mutable_sampling();
    sampling->set_repetition_penalty(1.0f);
    sampling->set_penalty_window(5);
    sampling->set_min_p(0.5f);  // no effect on greedy decoding
    sampling->set_logprobs(true);
    sampling->set_top_logprobs(4);

    StreamResult result = Call(request);

    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    EXPECT_EQ(result.TokenIds(), c["generated_token_ids"].get<std::vector<int32_t>>());
  }
}

struct InvalidCase {
  const char* name;
  std::function<void(v1::SamplingParams&)> mutate;
  const char* message;
};

TEST_F(SamplingTest, InvalidSamplingFieldsNameTheField) {
  const float nan = std::nanf("");
  const float inf = INFINITY;
  const std::vector<InvalidCase> cases = {
      {"min_p above 1", [](auto& s) { s.set_min_p(1.5f); }, "sampling.min_p is 1.5"},
      {"negative min_p", [](auto& s) { s.set_min_p(-0.1f); }, "sampling.min_p is -0.1"},
      {"NaN min_p", [=](auto& s) { s.set_min_p(nan); }, "sampling.min_p is nan"},
      {"negative repetition", [](auto& s) { s.set_repetition_penalty(-1.0f); },
       "sampling.repetition_penalty is -1"},
      {"tiny repetition", [](auto& s) { s.set_repetition_penalty(0.05f); },
       "sampling.repetition_penalty is 0.05"},
      {"repetition above 10", [](auto& s) { s.set_repetition_penalty(11.0f); },
       "sampling.repetition_penalty is 11"},
      {"infinite repetition", [=](auto& s) { s.set_repetition_penalty(inf); },
       "sampling.repetition_penalty is inf"},
      {"presence above 2", [](auto& s) { s.set_presence_penalty(2.5f); },
       "sampling.presence_penalty is 2.5"},
      {"presence below -2", [](auto& s) { s.set_presence_penalty(-3.0f); },
       "sampling.presence_penalty is -3"},
      {"NaN presence", [=](auto& s) { s.set_presence_penalty(nan); },
       "sampling.presence_penalty is nan"},
      {"frequency above 2", [](auto& s) { s.set_frequency_penalty(2.25f); },
       "sampling.frequency_penalty is 2.25"},
      {"infinite frequency", [=](auto& s) { s.set_frequency_penalty(-inf); },
       "sampling.frequency_penalty is -inf"},
      {"window beyond context", [](auto& s) { s.set_penalty_window(100000); },
       "sampling.penalty_window is 100000"},
      {"negative bias key", [](auto& s) { (*s.mutable_logit_bias())[-1] = 1.0f; },
       "sampling.logit_bias has key -1"},
      {"bias key at vocab size", [](auto& s) { (*s.mutable_logit_bias())[1024] = 1.0f; },
       "sampling.logit_bias has key 1024"},
      {"bias above 100", [](auto& s) { (*s.mutable_logit_bias())[5] = 150.0f; },
       "sampling.logit_bias[5] is 150"},
      {"NaN bias", [=](auto& s) { (*s.mutable_logit_bias())[7] = nan; },
       "sampling.logit_bias[7] is nan"},
      {"too many biases",
       [](auto& s) {
         for (int i = 0; i < 1025; ++i) (*s.mutable_logit_bias())[i] = 1.0f;
       },
       "sampling.logit_bias has 1025 entries"},
      {"top_logprobs above 20",
       [](auto& s) {
         s.set_logprobs(true);
         s.set_top_logprobs(21);
       },
       "sampling.top_logprobs is 21"},
      {"top_logprobs without logprobs", [](auto& s) { s.set_top_logprobs(3); },
       "sampling.logprobs is false"},
  };
  for (const InvalidCase& c : cases) {
    SCOPED_TRACE(c.name);
    v1::GenerateRequest request;
    request.set_prompt("Once upon a time");
    request.mutable_stopping()->set_max_new_tokens(3);
    c.mutate(*request.mutable_sampling());

    StreamResult result = Call(request);

    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(result.status.error_message(), HasSubstr(c.message));
    EXPECT_TRUE(result.chunks.empty());
  }
}

TEST_F(SamplingTest, BoundaryValuesAreAccepted) {
  const int64_t context_length = loaded_->model->description().context_length;
  const std::vector<std::function<void(v1::SamplingParams&)>> cases = {
      [](auto& s) { s.set_min_p(1.0f); },
      [](auto& s) { s.set_repetition_penalty(0.1f); },
      [](auto& s) { s.set_repetition_penalty(10.0f); },
      [](auto& s) { s.set_presence_penalty(-2.0f); },
      [](auto& s) { s.set_frequency_penalty(2.0f); },
      [=](auto& s) { s.set_penalty_window(static_cast<uint32_t>(context_length)); },
      [](auto& s) {
        (*s.mutable_logit_bias())[0] = -100.0f;
        (*s.mutable_logit_bias())[1023] = 100.0f;
      },
      [](auto& s) {
        for (int i = 0; i < 1024; ++i) (*s.mutable_logit_bias())[i] = 0.5f;
      },
      [](auto& s) {
        s.set_logprobs(true);
        s.set_top_logprobs(20);
      },
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "case " << i);
    v1::GenerateRequest request;
    request.set_prompt("Once upon a time");
    request.mutable_stopping()->set_max_new_tokens(2);
    cases[i](*request.mutable_sampling());

    StreamResult result = Call(request);

    EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  }
}

// Runs `command` with the shell and returns its stdout and exit status.
std::pair<std::string, int> RunCommand(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {"", -1};
  std::string output;
  char buffer[4096];
  size_t count = 0;
  while ((count = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, count);
  const int status = pclose(pipe);
  return {output, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

TEST_F(SamplingTest, ClientPrintsLogprobsAsJson) {
  const std::string command =
      testing::BinaryDir() + "/client/textgen-client --addr 127.0.0.1:" +
      std::to_string(running_->port) +
      " --json --max-new-tokens 4 --ignore-eos --logprobs --top-logprobs 2"
      " --logit-bias 300=100 --logit-bias 301=-5 --min-p 0.05 --repetition-penalty 1.2"
      " --presence-penalty 0.5 --frequency-penalty 0.5 --penalty-window 8"
      " 'Once upon a time'";

  const auto [output, status] = RunCommand(command);

  ASSERT_EQ(status, 0) << output;
  std::vector<int32_t> ids;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    const nlohmann::json response = nlohmann::json::parse(line);
    if (!response.contains("chunk")) continue;
    const nlohmann::json& chunk = response["chunk"];
    ASSERT_EQ(chunk["logprobs"].size(), chunk["token_ids"].size()) << line;
    for (const auto& logprob : chunk["logprobs"]) {
      ids.push_back(logprob["token_id"]);
      ASSERT_EQ(logprob["top"].size(), 2u) << line;
      // The forced token is the most likely one, and bytes print as base64.
      EXPECT_EQ(logprob["top"][0]["token_id"], 300);
      std::string piece;
      ASSERT_TRUE(absl::Base64Unescape(logprob["top"][0]["piece"].get<std::string>(), &piece));
      EXPECT_EQ(piece, loaded_->tokenizer->TokenBytes(-1, 300));
    }
  }
  EXPECT_EQ(ids, std::vector<int32_t>(4, 300));
}

}  // namespace
}  // namespace textgen
