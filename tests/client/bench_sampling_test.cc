// The sampling and stopping fields of textgen-bench: parsing --logit-bias and
// --stop-token-id, copying the fields into every request and listing them in
// the reports.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "client/bench_command_line.h"
#include "client/bench_report.h"
#include "client/bench_workload.h"
#include "nlohmann/json.hpp"

namespace textgen::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(ParseLogitBiasListTest, ParsesEntries) {
  std::string error;
  const auto biases = ParseLogitBiasList("50256=-100, 13=2.5,0=0", &error);
  ASSERT_TRUE(biases.has_value()) << error;
  EXPECT_THAT(*biases, ElementsAre(Pair(50256, -100.0f), Pair(13, 2.5f), Pair(0, 0.0f)));
}

TEST(ParseLogitBiasListTest, EmptyTextIsEmptyList) {
  std::string error;
  const auto biases = ParseLogitBiasList("", &error);
  ASSERT_TRUE(biases.has_value()) << error;
  EXPECT_TRUE(biases->empty());
}

TEST(ParseLogitBiasListTest, RejectsMalformedEntries) {
  for (const char* text : {"13", "13=", "=2", "x=1", "13=big", "13:1"}) {
    SCOPED_TRACE(text);
    std::string error;
    EXPECT_FALSE(ParseLogitBiasList(text, &error).has_value());
    EXPECT_THAT(error, HasSubstr("invalid --logit-bias entry"));
  }
}

TEST(ParseLogitBiasListTest, RejectsEmptyEntry) {
  std::string error;
  EXPECT_FALSE(ParseLogitBiasList("13=1,", &error).has_value());
  EXPECT_THAT(error, HasSubstr("invalid --logit-bias list '13=1,': entry 2 is empty"));
}

TEST(ParseTokenIdListTest, ParsesIds) {
  std::string error;
  const auto ids = ParseTokenIdList("2, 13 ,0,2147483647", "--stop-token-id", &error);
  ASSERT_TRUE(ids.has_value()) << error;
  EXPECT_THAT(*ids, ElementsAre(2, 13, 0, 2147483647));
}

TEST(ParseTokenIdListTest, EmptyTextIsEmptyList) {
  for (const char* text : {"", "  "}) {
    SCOPED_TRACE(text);
    std::string error;
    const auto ids = ParseTokenIdList(text, "--stop-token-id", &error);
    ASSERT_TRUE(ids.has_value()) << error;
    EXPECT_TRUE(ids->empty());
  }
}

TEST(ParseTokenIdListTest, RejectsBadEntries) {
  struct Case {
    const char* text;
    const char* message;
  };
  // 2147483648 is 2^31, one past the largest int32.
  const Case cases[] = {
      {"-1", "invalid --stop-token-id entry '-1': expected a token id from 0 to 2147483647"},
      {"2,-5", "invalid --stop-token-id entry '-5'"},
      {"x", "invalid --stop-token-id entry 'x'"},
      {"1.5", "invalid --stop-token-id entry '1.5'"},
      {"0x10", "invalid --stop-token-id entry '0x10'"},
      {"13 2", "invalid --stop-token-id entry '13 2'"},
      {"2147483648", "invalid --stop-token-id entry '2147483648'"},
      {"99999999999999999999", "invalid --stop-token-id entry '99999999999999999999'"},
      {"13,", "invalid --stop-token-id list '13,': entry 2 is empty"},
      {",13", "invalid --stop-token-id list ',13': entry 1 is empty"},
      {"2,,13", "invalid --stop-token-id list '2,,13': entry 2 is empty"},
      {"2, ,13", "invalid --stop-token-id list '2, ,13': entry 2 is empty"},
  };
  for (const Case& test_case : cases) {
    SCOPED_TRACE(test_case.text);
    std::string error;
    EXPECT_FALSE(ParseTokenIdList(test_case.text, "--stop-token-id", &error).has_value());
    EXPECT_THAT(error, HasSubstr(test_case.message));
  }
}

TEST(ParseTokenIdListTest, ErrorNamesGivenFlag) {
  std::string error;
  EXPECT_FALSE(ParseTokenIdList("7,-7", "--other-ids", &error).has_value());
  EXPECT_THAT(error, HasSubstr("invalid --other-ids entry '-7'"));
}

TEST(WorkloadSamplingTest, RequestsCarrySamplingFields) {
  WorkloadOptions options;
  options.vocab_size = 100;
  options.prompt_tokens = 4;
  options.max_new_tokens = 8;
  options.temperature = 0.8f;
  options.seed = 7;
  options.sampling.set_min_p(0.05f);
  options.sampling.set_repetition_penalty(1.2f);
  options.sampling.set_presence_penalty(0.5f);
  options.sampling.set_frequency_penalty(-0.5f);
  options.sampling.set_penalty_window(64);
  (*options.sampling.mutable_logit_bias())[13] = -100.0f;
  options.sampling.set_logprobs(true);
  options.sampling.set_top_logprobs(5);
  const Workload workload(options);

  const v1::GenerateRequest first = workload.Request(0);
  const v1::GenerateRequest second = workload.Request(1);

  for (const v1::GenerateRequest& request : {first, second}) {
    const v1::SamplingParams& sampling = request.sampling();
    EXPECT_FLOAT_EQ(sampling.temperature(), 0.8f);
    EXPECT_FLOAT_EQ(sampling.min_p(), 0.05f);
    EXPECT_FLOAT_EQ(sampling.repetition_penalty(), 1.2f);
    EXPECT_FLOAT_EQ(sampling.presence_penalty(), 0.5f);
    EXPECT_FLOAT_EQ(sampling.frequency_penalty(), -0.5f);
    EXPECT_EQ(sampling.penalty_window(), 64u);
    ASSERT_EQ(sampling.logit_bias_size(), 1);
    EXPECT_FLOAT_EQ(sampling.logit_bias().at(13), -100.0f);
    EXPECT_TRUE(sampling.logprobs());
    EXPECT_EQ(sampling.top_logprobs(), 5u);
    EXPECT_TRUE(sampling.has_seed());
  }
  // Each request still gets its own seed.
  EXPECT_NE(first.sampling().seed(), second.sampling().seed());
}

TEST(WorkloadStoppingTest, RequestsCarryStoppingFields) {
  WorkloadOptions options;
  options.vocab_size = 100;
  options.prompt_tokens = 4;
  options.max_new_tokens = 8;
  options.stopping.add_stop("a, b");
  options.stopping.add_stop_token_ids(2);
  options.stopping.add_stop_token_ids(13);
  options.stopping.set_min_new_tokens(3);
  options.stopping.set_include_stop_in_output(true);
  // Request sets these two over the template.
  options.stopping.set_max_new_tokens(999);
  options.stopping.set_ignore_eos(false);
  const Workload workload(options);

  for (const int64_t index : {0, 1, 7, -1}) {
    SCOPED_TRACE(index);
    const v1::StoppingCriteria stopping = workload.Request(index).stopping();
    EXPECT_THAT(stopping.stop(), ElementsAre("a, b"));
    EXPECT_THAT(stopping.stop_token_ids(), ElementsAre(2, 13));
    EXPECT_EQ(stopping.min_new_tokens(), 3u);
    EXPECT_TRUE(stopping.include_stop_in_output());
    EXPECT_EQ(stopping.max_new_tokens(), 8u);
    EXPECT_TRUE(stopping.ignore_eos());
  }
}

TEST(WorkloadStoppingTest, DefaultRequestsHaveNoStops) {
  WorkloadOptions options;
  options.vocab_size = 100;
  options.prompt_tokens = 4;
  options.max_new_tokens = 8;
  const v1::StoppingCriteria stopping = Workload(options).Request(0).stopping();
  EXPECT_EQ(stopping.stop_size(), 0);
  EXPECT_EQ(stopping.stop_token_ids_size(), 0);
  EXPECT_EQ(stopping.min_new_tokens(), 0u);
  EXPECT_FALSE(stopping.include_stop_in_output());
}

TEST(BenchReportSamplingTest, ReportsListSamplingFields) {
  BenchSettings settings;
  settings.model.set_name("tiny");
  settings.concurrency_levels = {1};
  settings.requests = 4;
  settings.sampling.set_top_k(40);
  settings.sampling.set_repetition_penalty(1.5f);
  (*settings.sampling.mutable_logit_bias())[7] = 2.0f;
  settings.sampling.set_logprobs(true);
  settings.sampling.set_top_logprobs(3);

  const nlohmann::json report = nlohmann::json::parse(FormatJsonReport(settings, {}));
  const nlohmann::json& sampling = report["parameters"]["sampling"];
  EXPECT_FLOAT_EQ(sampling["repetition_penalty"].get<float>(), 1.5f);
  EXPECT_FLOAT_EQ(sampling["logit_bias"]["7"].get<float>(), 2.0f);
  EXPECT_EQ(sampling["logprobs"], true);
  EXPECT_EQ(sampling["top_logprobs"], 3);
  EXPECT_EQ(sampling["min_p"], 0.0);
  EXPECT_EQ(sampling["top_k"], 40);
  EXPECT_EQ(sampling["top_p"], 0.0);

  const std::string line = DescribeSettings(settings);
  EXPECT_THAT(line, HasSubstr("top_k 40"));
  EXPECT_THAT(line, ::testing::Not(HasSubstr("top_p")));
  EXPECT_THAT(line, HasSubstr("repetition_penalty 1.5"));
  EXPECT_THAT(line, HasSubstr("1 logit bias,"));
  EXPECT_THAT(line, HasSubstr("logprobs with top 3"));
  EXPECT_THAT(line, ::testing::Not(HasSubstr("min_p")));
}

TEST(BenchReportStoppingTest, JsonListsStoppingFields) {
  BenchSettings settings;
  settings.concurrency_levels = {1};
  settings.requests = 4;
  settings.stopping.add_stop("a, b");
  settings.stopping.add_stop_token_ids(2);
  settings.stopping.add_stop_token_ids(13);
  settings.stopping.set_min_new_tokens(3);
  settings.stopping.set_include_stop_in_output(true);

  const nlohmann::json report = nlohmann::json::parse(FormatJsonReport(settings, {}));
  const nlohmann::json& parameters = report["parameters"];
  EXPECT_EQ(parameters["stop"], nlohmann::json::parse(R"(["a, b"])"));
  EXPECT_EQ(parameters["stop_token_ids"], nlohmann::json::parse("[2, 13]"));
  EXPECT_EQ(parameters["min_new_tokens"], 3);
  EXPECT_EQ(parameters["include_stop_in_output"], true);
}

TEST(BenchReportStoppingTest, JsonListsDefaultStoppingFields) {
  BenchSettings settings;
  settings.concurrency_levels = {1};
  settings.requests = 4;

  const nlohmann::json report = nlohmann::json::parse(FormatJsonReport(settings, {}));
  const nlohmann::json& parameters = report["parameters"];
  EXPECT_EQ(parameters["stop"], nlohmann::json::array());
  EXPECT_EQ(parameters["stop_token_ids"], nlohmann::json::array());
  EXPECT_EQ(parameters["min_new_tokens"], 0);
  EXPECT_EQ(parameters["include_stop_in_output"], false);
}

}  // namespace
}  // namespace textgen::bench
