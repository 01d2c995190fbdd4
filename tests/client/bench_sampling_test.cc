// The sampling fields of textgen-bench: parsing --logit-bias, copying the
// fields into every request and listing them in the reports.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
  for (const char* text : {"13", "13=", "=2", "x=1", "13=big", "13=1,", "13:1"}) {
    SCOPED_TRACE(text);
    std::string error;
    EXPECT_FALSE(ParseLogitBiasList(text, &error).has_value());
    EXPECT_THAT(error, HasSubstr("invalid --logit-bias entry"));
  }
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

TEST(BenchReportSamplingTest, ReportsListSamplingFields) {
  BenchSettings settings;
  settings.model.set_name("tiny");
  settings.concurrency_levels = {1};
  settings.requests = 4;
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

  const std::string line = DescribeSettings(settings);
  EXPECT_THAT(line, HasSubstr("repetition_penalty 1.5"));
  EXPECT_THAT(line, HasSubstr("1 logit bias,"));
  EXPECT_THAT(line, HasSubstr("logprobs with top 3"));
  EXPECT_THAT(line, ::testing::Not(HasSubstr("min_p")));
}

}  // namespace
}  // namespace textgen::bench
