// textgen-bench: its statistics, request workload, command-line checks,
// reports and SVG plot, and whole runs of the executable against a real
// textgen-server on 127.0.0.1.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "client/bench_command_line.h"
#include "client/bench_progress.h"
#include "client/bench_report.h"
#include "client/bench_stats.h"
#include "client/bench_svg.h"
#include "client/bench_workload.h"
#include "nlohmann/json.hpp"
#include "tests/process.h"
#include "tests/test_paths.h"

extern char** environ;

// A flag for the command-line checks, because the test binary defines no
// other flags.
ABSL_FLAG(int32_t, bench_test_count, 1, "A flag for bench_test.");

namespace textgen::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

// ---------------------------------------------------------------------------
// Percentiles

TEST(NearestRankPercentileTest, FiveSamples) {
  const std::vector<double> samples = {15, 20, 35, 40, 50};
  // Rank ceil(p / 100 * 5): 5% -> 1, 30% -> 2, 40% -> 2, 50% -> 3,
  // 80% -> 4, 81% -> 5, 100% -> 5.
  EXPECT_THAT(NearestRankPercentile(samples, 5), Optional(15.0));
  EXPECT_THAT(NearestRankPercentile(samples, 30), Optional(20.0));
  EXPECT_THAT(NearestRankPercentile(samples, 40), Optional(20.0));
  EXPECT_THAT(NearestRankPercentile(samples, 50), Optional(35.0));
  EXPECT_THAT(NearestRankPercentile(samples, 80), Optional(40.0));
  EXPECT_THAT(NearestRankPercentile(samples, 81), Optional(50.0));
  EXPECT_THAT(NearestRankPercentile(samples, 100), Optional(50.0));
}

TEST(NearestRankPercentileTest, WholeRanksAreExact) {
  std::vector<double> ten;
  for (int i = 1; i <= 10; ++i) ten.push_back(i);
  EXPECT_THAT(NearestRankPercentile(ten, 90), Optional(9.0));
  EXPECT_THAT(NearestRankPercentile(ten, 10), Optional(1.0));
  EXPECT_THAT(NearestRankPercentile(ten, 11), Optional(2.0));
  EXPECT_THAT(NearestRankPercentile(ten, 50), Optional(5.0));
  EXPECT_THAT(NearestRankPercentile(ten, 99), Optional(10.0));

  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  EXPECT_THAT(NearestRankPercentile(hundred, 99), Optional(99.0));
  EXPECT_THAT(NearestRankPercentile(hundred, 90), Optional(90.0));
  // In floating point, 0.07 * 100 is 7.000000000000001 and 0.14 * 100 is
  // 14.000000000000002, whose ceilings would be one rank too high.
  EXPECT_THAT(NearestRankPercentile(hundred, 7), Optional(7.0));
  EXPECT_THAT(NearestRankPercentile(hundred, 14), Optional(14.0));
  EXPECT_THAT(NearestRankPercentile(hundred, 99.5), Optional(100.0));
}

TEST(NearestRankPercentileTest, EdgesAndEmpty) {
  const std::vector<double> samples = {2, 4, 8};
  EXPECT_THAT(NearestRankPercentile(samples, 0), Optional(2.0));
  EXPECT_THAT(NearestRankPercentile(samples, -5), Optional(2.0));
  EXPECT_THAT(NearestRankPercentile(samples, 150), Optional(8.0));
  EXPECT_THAT(NearestRankPercentile(std::vector<double>{7}, 99), Optional(7.0));
  EXPECT_EQ(NearestRankPercentile(std::vector<double>{}, 50), std::nullopt);
}

// ---------------------------------------------------------------------------
// Level summary

RequestResult OkResult(double ttft_ms, std::vector<double> inter_token_ms,
                       double end_to_end_ms, int64_t generated_tokens) {
  RequestResult result;
  result.time_to_first_token_ms = ttft_ms;
  result.inter_token_ms = std::move(inter_token_ms);
  result.end_to_end_ms = end_to_end_ms;
  result.generated_tokens = generated_tokens;
  return result;
}

RequestResult FailedResult(const std::string& status) {
  RequestResult result;
  result.status = status;
  result.end_to_end_ms = 0.5;
  return result;
}

TEST(SummarizeLevelTest, CountsAndPercentiles) {
  const std::vector<RequestResult> requests = {
      OkResult(30, {2, 4}, 100, 10),    FailedResult("RESOURCE_EXHAUSTED"),
      OkResult(10, {1, 3, 5}, 200, 20), FailedResult("RESOURCE_EXHAUSTED"),
      FailedResult("UNAVAILABLE"),      OkResult(20, {}, 400, 40),
  };

  const LevelSummary summary = SummarizeLevel(4, 2.0, requests);

  EXPECT_EQ(summary.concurrency, 4);
  EXPECT_EQ(summary.requests_ok, 3);
  EXPECT_EQ(summary.requests_failed, 3);
  EXPECT_EQ(summary.errors_by_status,
            (std::map<std::string, int64_t>{{"RESOURCE_EXHAUSTED", 2},
                                            {"UNAVAILABLE", 1}}));
  EXPECT_EQ(summary.generated_tokens, 70);
  EXPECT_DOUBLE_EQ(summary.generated_tokens_per_second, 35.0);
  // Time to first token samples 10, 20, 30: ranks 2, 3, 3.
  EXPECT_THAT(summary.time_to_first_token_p50_ms, Optional(20.0));
  EXPECT_THAT(summary.time_to_first_token_p90_ms, Optional(30.0));
  EXPECT_THAT(summary.time_to_first_token_p99_ms, Optional(30.0));
  // Inter-token samples 1, 2, 3, 4, 5.
  EXPECT_THAT(summary.inter_token_p50_ms, Optional(3.0));
  EXPECT_THAT(summary.inter_token_p99_ms, Optional(5.0));
  // End-to-end samples 100, 200, 400, without the failed calls.
  EXPECT_THAT(summary.end_to_end_p50_ms, Optional(200.0));
  EXPECT_THAT(summary.end_to_end_p99_ms, Optional(400.0));
  // Per stream: 10 / 0.1 s, 20 / 0.2 s and 40 / 0.4 s are 100 tokens/s each.
  ASSERT_TRUE(summary.stream_tokens_per_second_mean.has_value());
  EXPECT_DOUBLE_EQ(*summary.stream_tokens_per_second_mean, 100.0);
}

TEST(SummarizeLevelTest, AllFailedLeavesLatenciesEmpty) {
  const LevelSummary summary = SummarizeLevel(
      2, 1.0, {FailedResult("UNAVAILABLE"), FailedResult(kMissingCompletion)});
  EXPECT_EQ(summary.requests_ok, 0);
  EXPECT_EQ(summary.requests_failed, 2);
  EXPECT_EQ(summary.errors_by_status.at(kMissingCompletion), 1);
  EXPECT_EQ(summary.generated_tokens_per_second, 0);
  EXPECT_EQ(summary.time_to_first_token_p50_ms, std::nullopt);
  EXPECT_EQ(summary.inter_token_p99_ms, std::nullopt);
  EXPECT_EQ(summary.end_to_end_p50_ms, std::nullopt);
  EXPECT_EQ(summary.stream_tokens_per_second_mean, std::nullopt);
}

// ---------------------------------------------------------------------------
// Workload

WorkloadOptions SmallWorkload() {
  WorkloadOptions options;
  options.vocab_size = 8;
  options.prompt_tokens = 200;
  options.max_new_tokens = 20;
  options.temperature = 0.5f;
  options.seed = 42;
  return options;
}

TEST(WorkloadTest, RequestsFollowOptions) {
  const Workload workload(SmallWorkload());
  const v1::GenerateRequest request = workload.Request(0);

  ASSERT_EQ(request.prompt_token_ids_size(), 200);
  std::set<int32_t> ids(request.prompt_token_ids().begin(),
                        request.prompt_token_ids().end());
  // 200 uniform draws from 5 ids miss one with probability about 1e-19.
  EXPECT_THAT(ids, ElementsAre(3, 4, 5, 6, 7));
  EXPECT_TRUE(request.prompt().empty());
  EXPECT_EQ(request.stopping().max_new_tokens(), 20u);
  EXPECT_TRUE(request.stopping().ignore_eos());
  EXPECT_FLOAT_EQ(request.sampling().temperature(), 0.5f);
  EXPECT_TRUE(request.sampling().has_seed());
}

TEST(WorkloadTest, SameIndexGivesSameRequest) {
  const Workload workload(SmallWorkload());
  const Workload same_seed(SmallWorkload());
  WorkloadOptions other_options = SmallWorkload();
  other_options.seed = 43;
  const Workload other_seed(other_options);

  EXPECT_EQ(workload.Request(5).SerializeAsString(),
            same_seed.Request(5).SerializeAsString());
  EXPECT_NE(workload.Request(5).SerializeAsString(),
            workload.Request(6).SerializeAsString());
  EXPECT_NE(workload.Request(5).sampling().seed(),
            workload.Request(6).sampling().seed());
  EXPECT_NE(workload.Request(5).SerializeAsString(),
            other_seed.Request(5).SerializeAsString());
  EXPECT_NE(workload.Request(-1).SerializeAsString(),
            workload.Request(1).SerializeAsString());
}

// ---------------------------------------------------------------------------
// Command line

TEST(ParseConcurrencyListTest, AcceptsList) {
  std::string error;
  EXPECT_THAT(ParseConcurrencyList("1,4,16", 1024, &error),
              Optional(ElementsAre(1, 4, 16)));
  EXPECT_THAT(ParseConcurrencyList(" 8 , 2", 1024, &error),
              Optional(ElementsAre(8, 2)));
  EXPECT_THAT(ParseConcurrencyList("1024", 1024, &error),
              Optional(ElementsAre(1024)));
}

TEST(ParseConcurrencyListTest, RejectsBadEntries) {
  for (const char* text : {"", "0", "1,,4", "-2", "1025", "4x", "1.5"}) {
    SCOPED_TRACE(text);
    std::string error;
    EXPECT_EQ(ParseConcurrencyList(text, 1024, &error), std::nullopt);
    EXPECT_THAT(error, HasSubstr("--concurrency"));
  }
}

TEST(FindFlagErrorTest, AcceptsValidFlags) {
  EXPECT_EQ(FindFlagError({"bench", "--bench_test_count", "3"}), std::nullopt);
  EXPECT_EQ(FindFlagError({"bench", "--bench_test_count=4", "positional"}),
            std::nullopt);
  EXPECT_EQ(FindFlagError({"bench", "--help"}), std::nullopt);
  EXPECT_EQ(FindFlagError({"bench", "--", "--unknown"}), std::nullopt);
}

TEST(FindFlagErrorTest, NamesTheBadFlag) {
  EXPECT_THAT(FindFlagError({"bench", "--no_such_flag=1"}),
              Optional(HasSubstr("unknown flag --no-such-flag")));
  EXPECT_THAT(FindFlagError({"bench", "--bench_test_count", "many"}),
              Optional(HasSubstr("invalid value for --bench-test-count")));
  EXPECT_THAT(FindFlagError({"bench", "--bench_test_count"}),
              Optional(HasSubstr("missing value for --bench-test-count")));
}

// ---------------------------------------------------------------------------
// Reports

LevelSummary KnownLevel(int concurrency, double tokens_per_second) {
  LevelSummary level;
  level.concurrency = concurrency;
  level.requests_ok = 10;
  level.wall_seconds = 2;
  level.generated_tokens = static_cast<int64_t>(2 * tokens_per_second);
  level.generated_tokens_per_second = tokens_per_second;
  level.time_to_first_token_p50_ms = 5.0 * concurrency;
  level.time_to_first_token_p90_ms = 8.0 * concurrency;
  level.time_to_first_token_p99_ms = 9.0 * concurrency;
  level.inter_token_p50_ms = 0.5 * concurrency;
  level.inter_token_p99_ms = 0.9 * concurrency;
  level.end_to_end_p50_ms = 50.0 * concurrency;
  level.end_to_end_p99_ms = 90.0 * concurrency;
  level.stream_tokens_per_second_mean = tokens_per_second / concurrency;
  return level;
}

BenchSettings KnownSettings() {
  BenchSettings settings;
  settings.addr = "127.0.0.1:1";
  settings.model.set_name("tiny & <small>");
  settings.model.set_architecture("llama");
  settings.model.set_weight_type("f32");
  settings.model.set_context_length(512);
  settings.model.set_vocab_size(512);
  settings.concurrency_levels = {1, 4, 16};
  settings.requests = 10;
  settings.prompt_tokens = 16;
  settings.max_new_tokens = 20;
  return settings;
}

TEST(FormatTableRowTest, ListsErrorsByStatus) {
  LevelSummary level = KnownLevel(4, 1000);
  level.requests_failed = 3;
  level.errors_by_status = {{"RESOURCE_EXHAUSTED", 2}, {"UNAVAILABLE", 1}};
  const std::string row = FormatTableRow(level);
  EXPECT_THAT(row, HasSubstr("1000.0"));
  EXPECT_THAT(row, HasSubstr("errors: RESOURCE_EXHAUSTED 2, UNAVAILABLE 1"));
  EXPECT_THAT(FormatTableRow(KnownLevel(4, 1000)),
              ::testing::Not(HasSubstr("errors")));
}

TEST(FormatJsonReportTest, HasLevelsAndParameters) {
  LevelSummary empty_level;
  empty_level.concurrency = 16;
  empty_level.requests_failed = 1;
  empty_level.errors_by_status = {{"UNAVAILABLE", 1}};
  const nlohmann::json report = nlohmann::json::parse(FormatJsonReport(
      KnownSettings(), {KnownLevel(1, 100), KnownLevel(4, 300), empty_level}));

  EXPECT_EQ(report["parameters"]["requests"], 10);
  EXPECT_TRUE(report["parameters"]["duration_seconds"].is_null());
  EXPECT_EQ(report["parameters"]["concurrency"],
            nlohmann::json::parse("[1, 4, 16]"));
  EXPECT_EQ(report["model"]["name"], "tiny & <small>");
  ASSERT_EQ(report["levels"].size(), 3u);
  const nlohmann::json& level = report["levels"][1];
  EXPECT_EQ(level["concurrency"], 4);
  EXPECT_EQ(level["requests_ok"], 10);
  EXPECT_EQ(level["generated_tokens"], 600);
  EXPECT_DOUBLE_EQ(level["generated_tokens_per_second"].get<double>(), 300);
  EXPECT_DOUBLE_EQ(level["time_to_first_token_ms"]["p90"].get<double>(), 32);
  EXPECT_DOUBLE_EQ(level["inter_token_ms"]["p99"].get<double>(), 3.6);
  EXPECT_DOUBLE_EQ(level["end_to_end_ms"]["p50"].get<double>(), 200);
  EXPECT_TRUE(report["levels"][2]["time_to_first_token_ms"]["p50"].is_null());
  EXPECT_EQ(report["levels"][2]["errors_by_status"]["UNAVAILABLE"], 1);
}

TEST(FormatProgressTest, BarAndLine) {
  ProgressTarget target;
  target.label = "level 1/2  concurrency 4";
  target.requests = 32;
  ProgressSnapshot snapshot;
  snapshot.completed = 16;
  snapshot.failed = 2;
  snapshot.streamed_tokens = 500;
  snapshot.elapsed_seconds = 2;
  EXPECT_EQ(FormatProgressBar(target, snapshot),
            "level 1/2  concurrency 4  [##########----------]  16/32 requests"
            "  250.0 tokens/s  2 errors");
  EXPECT_EQ(FormatProgressLine(target, snapshot),
            "textgen-bench: level 1/2  concurrency 4  16/32 requests"
            "  250.0 tokens/s  2 errors");

  ProgressTarget timed;
  timed.label = "level 1/1  concurrency 1";
  timed.duration_seconds = 8;
  EXPECT_THAT(FormatProgressBar(timed, snapshot),
              HasSubstr("[#####---------------]  2.0/8 s, 16 requests"));
}

// ---------------------------------------------------------------------------
// SVG

// Checks that `xml` is one well-formed element tree, loosely: every tag is
// closed in order, attributes are quoted, text has no bare '<' or '&'.
// Returns an error message, or "" when the document passes. Stores the
// names of all start tags in `*elements`.
std::string CheckXml(const std::string& xml,
                     std::multiset<std::string>* elements) {
  std::vector<std::string> open;
  size_t position = 0;
  if (xml.rfind("<?xml", 0) == 0) position = xml.find("?>") + 2;
  bool root_closed = false;
  while (position < xml.size()) {
    const size_t tag_start = xml.find('<', position);
    const std::string text = xml.substr(position, tag_start - position);
    const std::regex entity("&(amp|lt|gt|quot|apos);");
    if (std::regex_replace(text, entity, "").find('&') != std::string::npos) {
      return "bare '&' in text: " + text;
    }
    if (tag_start == std::string::npos) break;
    if (root_closed) return "content after the root element";
    const size_t tag_end = xml.find('>', tag_start);
    if (tag_end == std::string::npos) return "unterminated tag";
    const std::string tag = xml.substr(tag_start + 1, tag_end - tag_start - 1);
    position = tag_end + 1;

    if (tag.starts_with("/")) {
      if (open.empty() || open.back() != tag.substr(1)) {
        return "unexpected closing tag <" + tag + ">";
      }
      open.pop_back();
      root_closed = open.empty();
      continue;
    }
    static const std::regex start_tag(
        R"(^([a-zA-Z][\w:-]*)(\s+[\w:-]+="[^"<]*")*\s*(/?)$)");
    std::smatch match;
    if (!std::regex_match(tag, match, start_tag)) {
      return "malformed tag <" + tag + ">";
    }
    elements->insert(match[1]);
    if (match[3] != "/") open.push_back(match[1]);
    if (match[3] == "/" && open.empty()) root_closed = true;
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  return "";
}

TEST(CheckXmlTest, RejectsMalformedDocuments) {
  std::multiset<std::string> elements;
  EXPECT_EQ(CheckXml("<svg><g/><text>a &amp; b</text></svg>", &elements), "");
  EXPECT_NE(CheckXml("<svg><g></svg>", &elements), "");
  EXPECT_NE(CheckXml("<svg><text>a & b</text></svg>", &elements), "");
  EXPECT_NE(CheckXml("<svg width=10></svg>", &elements), "");
  EXPECT_NE(CheckXml("<svg></svg><svg></svg>", &elements), "");
  EXPECT_NE(CheckXml("<svg>", &elements), "");
}

TEST(RenderSweepSvgTest, IsWellFormedWithExpectedElements) {
  const std::vector<LevelSummary> levels = {
      KnownLevel(1, 120), KnownLevel(4, 400), KnownLevel(16, 900)};
  const std::string svg =
      RenderSweepSvg("textgen-bench: tiny & <small>",
                     DescribeSettings(KnownSettings()), levels);

  std::multiset<std::string> elements;
  ASSERT_EQ(CheckXml(svg, &elements), "") << svg;
  EXPECT_THAT(svg, HasSubstr("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_EQ(elements.count("svg"), 1u);
  EXPECT_EQ(elements.count("g"), 2u);
  // Per panel one axis line and a line per series: 1 + 1 and 1 + 3.
  EXPECT_EQ(elements.count("polyline"), 6u);
  // A point per level and series: 3 levels * 4 series.
  EXPECT_EQ(elements.count("circle"), 12u);
  EXPECT_THAT(svg, HasSubstr("textgen-bench: tiny &amp; &lt;small&gt;"));
  EXPECT_THAT(svg, HasSubstr("prompt 16 tokens, max_new_tokens 20"));
  EXPECT_THAT(svg, ::testing::Not(HasSubstr("failed")));
  for (const char* label :
       {"Total generated tokens/s", "TTFT p50", "TTFT p99", "inter-token p50",
        "concurrency (closed-loop streams, log2 scale)", ">16</text>"}) {
    EXPECT_THAT(svg, HasSubstr(label));
  }
}

TEST(RenderSweepSvgTest, LevelWithoutLatenciesLeavesGap) {
  LevelSummary failed_level;
  failed_level.concurrency = 8;
  failed_level.requests_failed = 5;
  const std::vector<LevelSummary> levels = {KnownLevel(1, 100),
                                            KnownLevel(2, 200), failed_level,
                                            KnownLevel(16, 300)};
  const std::string svg = RenderSweepSvg("title", "subtitle", levels);

  std::multiset<std::string> elements;
  ASSERT_EQ(CheckXml(svg, &elements), "") << svg;
  // Tokens/s is 0 at the failed level, so its line goes through all four
  // levels. Each latency series has points at 1, 2 and 16, and only 1-2
  // forms a line: 2 axes + 1 + 3.
  EXPECT_EQ(elements.count("polyline"), 6u);
  EXPECT_EQ(elements.count("circle"), 4u + 3 * 3);
  EXPECT_THAT(svg, HasSubstr(">5 failed</text>"));
}

TEST(RenderSweepSvgTest, SingleLevelRenders) {
  std::multiset<std::string> elements;
  const std::string svg =
      RenderSweepSvg("title", "subtitle", {KnownLevel(4, 100)});
  ASSERT_EQ(CheckXml(svg, &elements), "") << svg;
  EXPECT_EQ(elements.count("circle"), 4u);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
}

// ---------------------------------------------------------------------------
// The executables

const std::string kModel =
    testing::SharedPath("models/stories260K/stories260K.bin");
const std::string kTokenizer =
    testing::SharedPath("models/stories260K/tok512.bin");

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Returns a file name in the test's temporary folder that includes the
// process id, so that test runs of several build folders do not collide.
std::string OutputPath(const std::string& name, const std::string& suffix) {
  return ::testing::TempDir() + name + "." + std::to_string(getpid()) + "." +
         suffix;
}

// A child process whose stdout and stderr go to files, so that it never
// blocks on a full pipe. The destructor kills it if it still runs.
class ChildProcess {
 public:
  ChildProcess(const std::string& name,
               const std::vector<std::string>& arguments)
      : stdout_path_(OutputPath(name, "stdout")),
        stderr_path_(OutputPath(name, "stderr")) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO,
                                     stdout_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO,
                                     stderr_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> argv;
    for (const std::string& argument : arguments) {
      argv.push_back(const_cast<char*>(argument.c_str()));
    }
    argv.push_back(nullptr);
    const int error =
        posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
      ADD_FAILURE() << "starting " << arguments[0]
                    << " failed: " << std::strerror(error);
      pid_ = -1;
    }
  }

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  ~ChildProcess() {
    if (pid_ > 0 && !exit_code_.has_value()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // Polls stderr until a line matches `pattern` and returns its first
  // capture group, or returns "" after `timeout` or when the process ends.
  std::string WaitForStderrMatch(const std::regex& pattern,
                                 std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && pid_ > 0) {
      std::smatch match;
      const std::string text = ReadFile(stderr_path_);
      if (std::regex_search(text, match, pattern)) return match[1];
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        exit_code_ = -1;
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return "";
  }

  // Waits up to `timeout` for the process to exit and returns its exit
  // code, or -1 after killing it when it runs longer or ends by a signal.
  int WaitForExit(std::chrono::seconds timeout) {
    if (pid_ <= 0) return -1;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ADD_FAILURE() << "the process did not exit within " << timeout.count()
                      << " s; killing it";
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return *exit_code_;
  }

  void Terminate() {
    if (pid_ > 0 && !exit_code_.has_value()) kill(pid_, SIGTERM);
  }

  std::string Stdout() const { return ReadFile(stdout_path_); }
  std::string Stderr() const { return ReadFile(stderr_path_); }

 private:
  const std::string stdout_path_;
  const std::string stderr_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// Starts textgen-server on 127.0.0.1 with a free port and the stories260K
// model, plus `extra_flags`.
std::unique_ptr<ChildProcess> StartServer(
    const std::string& name, const std::vector<std::string>& extra_flags) {
  std::vector<std::string> arguments = {
      testing::BinaryDir() + "/server/textgen-server",
      "--model",
      kModel,
      "--tokenizer",
      kTokenizer,
      "--listen",
      "127.0.0.1:0",
      "--threads",
      "1",
      "--metrics-listen",
      ""};
  arguments.insert(arguments.end(), extra_flags.begin(), extra_flags.end());
  return std::make_unique<ChildProcess>(name, arguments);
}

std::string WaitForPort(ChildProcess& server) {
  return server.WaitForStderrMatch(
      testing::ServingLine(),
      std::chrono::seconds(30));
}

std::vector<std::string> BenchArguments(const std::string& port,
                                        const std::vector<std::string>& flags) {
  std::vector<std::string> arguments = {
      testing::BinaryDir() + "/client/textgen-bench", "--addr",
      "127.0.0.1:" + port};
  arguments.insert(arguments.end(), flags.begin(), flags.end());
  return arguments;
}

TEST(BenchExecutableTest, SweepReportsJson) {
  std::unique_ptr<ChildProcess> server = StartServer("sweep_server", {});
  const std::string port = WaitForPort(*server);
  ASSERT_FALSE(port.empty()) << "textgen-server did not report its port:\n"
                             << server->Stderr();

  ChildProcess bench(
      "sweep_bench",
      BenchArguments(
          port, {"--concurrency", "1,3", "--requests", "6", "--prompt-tokens",
                 "16", "--max-new-tokens", "20", "--json"}));
  ASSERT_EQ(bench.WaitForExit(std::chrono::seconds(120)), 0) << bench.Stderr();

  const nlohmann::json report = nlohmann::json::parse(bench.Stdout());
  EXPECT_EQ(report["model"]["name"], "stories260K");
  EXPECT_EQ(report["parameters"]["prompt_tokens"], 16);
  ASSERT_EQ(report["levels"].size(), 2u);
  const int expected_concurrency[] = {1, 3};
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE("level " + std::to_string(i));
    const nlohmann::json& level = report["levels"][i];
    EXPECT_EQ(level["concurrency"], expected_concurrency[i]);
    EXPECT_EQ(level["requests_ok"], 6);
    EXPECT_EQ(level["requests_failed"], 0);
    EXPECT_TRUE(level["errors_by_status"].empty());
    // ignore_eos makes every request generate exactly max_new_tokens.
    EXPECT_EQ(level["generated_tokens"], 6 * 20);
    EXPECT_GT(level["generated_tokens_per_second"].get<double>(), 0);
    EXPECT_GT(level["time_to_first_token_ms"]["p50"].get<double>(), 0);
    EXPECT_GE(level["time_to_first_token_ms"]["p99"].get<double>(),
              level["time_to_first_token_ms"]["p50"].get<double>());
    EXPECT_GT(level["inter_token_ms"]["p50"].get<double>(), 0);
    EXPECT_GT(level["end_to_end_ms"]["p99"].get<double>(), 0);
    EXPECT_GT(level["stream_tokens_per_second_mean"].get<double>(), 0);
  }

  server->Terminate();
  EXPECT_EQ(server->WaitForExit(std::chrono::seconds(30)), 0);
}

TEST(BenchExecutableTest, OverloadReportsResourceExhausted) {
  std::unique_ptr<ChildProcess> server = StartServer(
      "overload_server", {"--max-running", "1", "--max-waiting", "1"});
  const std::string port = WaitForPort(*server);
  ASSERT_FALSE(port.empty()) << "textgen-server did not report its port:\n"
                             << server->Stderr();

  // Eight streams compete for room for two requests. A request of 200 tokens
  // runs long enough that the other streams find the server full.
  const std::string plot = OutputPath("overload", "svg");
  ChildProcess bench(
      "overload_bench",
      BenchArguments(
          port, {"--concurrency", "8", "--requests", "16", "--prompt-tokens",
                 "16", "--max-new-tokens", "200", "--json", "--plot", plot}));
  EXPECT_EQ(bench.WaitForExit(std::chrono::seconds(120)), 1) << bench.Stderr();

  const nlohmann::json report = nlohmann::json::parse(bench.Stdout());
  ASSERT_EQ(report["levels"].size(), 1u);
  const nlohmann::json& level = report["levels"][0];
  EXPECT_EQ(
      level["requests_ok"].get<int>() + level["requests_failed"].get<int>(),
      16);
  EXPECT_GT(level["errors_by_status"].value("RESOURCE_EXHAUSTED", 0), 0)
      << level.dump();
  EXPECT_THAT(bench.Stderr(), HasSubstr("RESOURCE_EXHAUSTED"));
  std::multiset<std::string> elements;
  EXPECT_EQ(CheckXml(ReadFile(plot), &elements), "");

  server->Terminate();
  EXPECT_EQ(server->WaitForExit(std::chrono::seconds(30)), 0);
}

TEST(BenchExecutableTest, BadFlagsExitWithUsageStatus) {
  const std::string bench = testing::BinaryDir() + "/client/textgen-bench";
  const std::vector<std::vector<std::string>> cases = {
      {"--concurrency", "1,0"},  {"--requests", "3", "--duration", "2"},
      {"--max-new-tokens", "0"}, {"--no-such-flag"},
      {"--requests", "many"},
  };
  for (const std::vector<std::string>& flags : cases) {
    SCOPED_TRACE(flags[0]);
    std::vector<std::string> arguments = {bench};
    arguments.insert(arguments.end(), flags.begin(), flags.end());
    ChildProcess process("bad_flags", arguments);
    EXPECT_EQ(process.WaitForExit(std::chrono::seconds(30)), 2);
    EXPECT_THAT(process.Stderr(), HasSubstr("textgen-bench: "));
  }
}

TEST(BenchExecutableTest, RequestsBeyondContextExitWithUsageStatus) {
  std::unique_ptr<ChildProcess> server = StartServer("context_server", {});
  const std::string port = WaitForPort(*server);
  ASSERT_FALSE(port.empty()) << "textgen-server did not report its port:\n"
                             << server->Stderr();

  ChildProcess bench("context_bench",
                     BenchArguments(port, {"--prompt-tokens", "500",
                                           "--max-new-tokens", "13"}));
  EXPECT_EQ(bench.WaitForExit(std::chrono::seconds(30)), 2);
  EXPECT_THAT(bench.Stderr(), HasSubstr("context_length 512"));

  server->Terminate();
  EXPECT_EQ(server->WaitForExit(std::chrono::seconds(30)), 0);
}

}  // namespace
}  // namespace textgen::bench
