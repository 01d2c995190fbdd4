// textgen-bench: a closed-loop load generator for the textgen.v1.TextGeneration
// service. It sweeps concurrency levels, measures each Generate call on the
// client side and reports throughput and latency percentiles per level.

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/bench_command_line.h"
#include "client/bench_progress.h"
#include "client/bench_report.h"
#include "client/bench_stats.h"
#include "client/bench_svg.h"
#include "client/bench_worker.h"
#include "client/bench_workload.h"
#include "common/command_line.h"
#include "grpcpp/grpcpp.h"
#include "textgen/v1/textgen.grpc.pb.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051",
          "Address of the textgen server, as HOST:PORT.");
ABSL_FLAG(std::string, concurrency, "1,4,16",
          "Comma-separated concurrency levels to run one after another; each "
          "level runs that many streams at once.");
ABSL_FLAG(std::optional<int64_t>, requests, std::nullopt,
          "Requests to complete at each level; 32 when neither --requests "
          "nor --duration is given.");
ABSL_FLAG(std::optional<double>, duration, std::nullopt,
          "Seconds after which a level starts no more requests. The level "
          "ends when the running ones end. Excludes --requests.");
ABSL_FLAG(int32_t, prompt_tokens, 128,
          "Prompt length of every request, in tokens.");
ABSL_FLAG(int32_t, max_new_tokens, 128,
          "Tokens every request generates. Requests set ignore_eos, so that "
          "none ends early unless --stop or --stop-token-id matches.");
ABSL_FLAG(uint64_t, seed, 0,
          "Seed from which the prompts and the sampling seeds of the "
          "requests are derived.");
ABSL_FLAG(double, temperature, 0,
          "Sampling temperature; 0 selects greedy decoding.");
ABSL_FLAG(int32_t, top_k, 0,
          "sampling.top_k of every request: keep the K most likely tokens; 0 "
          "is off.");
ABSL_FLAG(float, top_p, 0,
          "sampling.top_p of every request: keep the smallest set of tokens "
          "whose probability reaches P; 0 or 1 is off.");
ABSL_FLAG(float, min_p, 0,
          "sampling.min_p of every request: keep tokens whose probability is "
          "at least this fraction of the largest; 0 is off.");
ABSL_FLAG(float, repetition_penalty, 0,
          "sampling.repetition_penalty of every request; 0 or 1 is off.");
ABSL_FLAG(float, presence_penalty, 0,
          "sampling.presence_penalty of every request; 0 is off.");
ABSL_FLAG(float, frequency_penalty, 0,
          "sampling.frequency_penalty of every request; 0 is off.");
ABSL_FLAG(uint32_t, penalty_window, 0,
          "sampling.penalty_window of every request: the most recent tokens "
          "the penalties count; 0 counts all.");
ABSL_FLAG(std::string, logit_bias, "",
          "sampling.logit_bias of every request, as a comma-separated list "
          "of TOKEN_ID=BIAS such as 50256=-100,13=2.5.");
ABSL_FLAG(bool, logprobs, false,
          "Ask for each generated token's log-probability.");
ABSL_FLAG(uint32_t, top_logprobs, 0,
          "Also ask for the N most likely tokens at each step, at most 20; "
          "implies --logprobs.");
ABSL_FLAG(std::string, stop, "",
          "Stop string of every request; a request whose text contains it "
          "ends early. The whole value is one string, commas included. Empty "
          "means none.");
ABSL_FLAG(std::string, stop_token_id, "",
          "stopping.stop_token_ids of every request, as a comma-separated "
          "list of token ids such as 2,13; a request that samples one ends "
          "early. Requests set ignore_eos, so pass the EOS id here to end "
          "them at EOS.");
ABSL_FLAG(int32_t, min_new_tokens, 0,
          "Tokens every request generates before its stop string and stop "
          "token ids count, from 0 to --max-new-tokens.");
ABSL_FLAG(bool, include_stop_in_output, false,
          "stopping.include_stop_in_output of every request: keep the "
          "matched stop string at the end of the text.");
ABSL_FLAG(int32_t, warmup, 0,
          "Requests sent one at a time before the first level and left out "
          "of the figures.");
ABSL_FLAG(bool, json, false,
          "Print one JSON document with the parameters and the figures of "
          "every level on stdout, in place of the text table.");
ABSL_FLAG(std::string, plot, "",
          "Write an SVG plot of the sweep (tokens/s and latencies against "
          "concurrency) to this file.");

namespace textgen::bench {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr int64_t kDefaultRequests = 32;
// Each stream is a thread of this process.
constexpr int kMaxConcurrency = 1024;
constexpr int64_t kMaxRequests = 10'000'000;
constexpr double kMaxDurationSeconds = 24 * 60 * 60;
constexpr int32_t kMaxWarmupRequests = 10'000;
constexpr std::chrono::seconds kModelInfoTimeout(10);

constexpr char kUsage[] =
    "Measures a textgen server under closed-loop load.\n"
    "\n"
    "Usage:\n"
    "  textgen-bench [--addr HOST:PORT] [--concurrency 1,4,16]\n"
    "                [--requests N | --duration SECONDS] [--prompt-tokens N]\n"
    "                [--max-new-tokens N] [--seed S] [--temperature T]\n"
    "                [--stop STRING] [--stop-token-id ID,...]\n"
    "                [--min-new-tokens N] [--include-stop-in-output]\n"
    "                [--top-k K] [--top-p P] [--min-p P]\n"
    "                [--repetition-penalty R]\n"
    "                [--presence-penalty P] [--frequency-penalty F]\n"
    "                [--penalty-window N] [--logit-bias ID=BIAS,...]\n"
    "                [--logprobs] [--top-logprobs N]\n"
    "                [--warmup N] [--json] [--plot FILE.svg]\n"
    "\n"
    "For each concurrency level C, C workers each keep one Generate call in\n"
    "flight and start the next when it ends, until --requests calls ended or\n"
    "--duration passed. Every level sends the same requests: prompt_token_ids\n"
    "drawn uniformly from [3, vocab_size) and a sampling seed, both derived\n"
    "from --seed and the request's index. Ids 0 to 2 are left out because\n"
    "common vocabularies reserve them for unknown, BOS and EOS. The client\n"
    "does not know the server's tokenizer: it reads vocab_size and\n"
    "context_length with GetModelInfo first.\n"
    "\n"
    "Per level it reports the requests that succeeded, failed requests by\n"
    "gRPC status code, generated tokens/s (all generated tokens over the\n"
    "level's wall time), time to first token p50/p90/p99, inter-token\n"
    "latency p50/p99 (the time between chunks divided by the tokens of the\n"
    "later chunk), end-to-end latency p50/p99, and the mean over requests\n"
    "of generated tokens / end-to-end time. Latencies come from successful\n"
    "requests, and percentiles are nearest-rank. A stream that ends with OK\n"
    "but without a Completion counts as failed with MISSING_COMPLETION.\n"
    "Progress goes to stderr. Flag names may use '-' or '_' between words.\n"
    "\n"
    "Exit status: 0 when every request succeeded; 1 when a request failed\n"
    "(the report is printed all the same) or the server cannot be reached;\n"
    "2 for invalid flags.";

// Makes --help list the flags of this file, which absl otherwise leaves out
// because the file name differs from the program name.
void ConfigureUsage() {
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig config;
  const auto is_this_file = [](absl::string_view filename) {
    return absl::EndsWith(filename, "textgen_bench.cc");
  };
  config.contains_help_flags = is_this_file;
  config.contains_helpshort_flags = is_this_file;
  config.version_string = [] { return std::string("textgen-bench " TEXTGEN_VERSION "\n"); };
  absl::SetFlagsUsageConfig(config);
}

// Parses the command line. Returns an error message for an unknown flag, an
// invalid value or a positional argument.
std::optional<std::string> ParseFlags(int argc, char** argv) {
  std::vector<std::string> arguments = NormalizeFlagNames(argc, argv);
  if (std::optional<std::string> error = FindFlagError(arguments)) {
    return error;
  }
  std::vector<char*> pointers = ArgvPointers(arguments);
  const std::vector<char*> remaining = absl::ParseCommandLine(
      static_cast<int>(arguments.size()), pointers.data());
  if (remaining.size() > 1) {
    return absl::StrCat("unexpected argument '", remaining[1],
                        "'; textgen-bench takes only flags");
  }
  return std::nullopt;
}

// Returns an error message when --requests or --duration is invalid, and
// stores the length of a level in `settings` otherwise.
std::optional<std::string> ReadLevelLength(BenchSettings* settings) {
  const std::optional<int64_t> requests = absl::GetFlag(FLAGS_requests);
  const std::optional<double> duration = absl::GetFlag(FLAGS_duration);
  if (requests.has_value() && duration.has_value()) {
    return "--requests and --duration exclude each other; pass one of them";
  }
  if (duration.has_value()) {
    if (!std::isfinite(*duration) || *duration <= 0 ||
        *duration > kMaxDurationSeconds) {
      return absl::StrCat("invalid --duration=", *duration,
                          ": expected seconds above 0 and at most ",
                          kMaxDurationSeconds);
    }
    settings->duration_seconds = duration;
    return std::nullopt;
  }
  settings->requests = requests.value_or(kDefaultRequests);
  if (*settings->requests < 1 || *settings->requests > kMaxRequests) {
    return absl::StrCat("invalid --requests=", *settings->requests,
                        ": expected 1 to ", kMaxRequests);
  }
  return std::nullopt;
}

// Returns an error message when --logit-bias is malformed, and stores the
// sampling flags in `settings` otherwise. The server checks their ranges.
std::optional<std::string> ReadSampling(BenchSettings* settings) {
  v1::SamplingParams& sampling = settings->sampling;
  std::string error;
  const std::optional<std::vector<std::pair<int32_t, float>>> biases =
      ParseLogitBiasList(absl::GetFlag(FLAGS_logit_bias), &error);
  if (!biases.has_value()) return error;
  for (const auto& [id, bias] : *biases) (*sampling.mutable_logit_bias())[id] = bias;

  sampling.set_top_k(absl::GetFlag(FLAGS_top_k));
  sampling.set_top_p(absl::GetFlag(FLAGS_top_p));
  sampling.set_min_p(absl::GetFlag(FLAGS_min_p));
  sampling.set_repetition_penalty(absl::GetFlag(FLAGS_repetition_penalty));
  sampling.set_presence_penalty(absl::GetFlag(FLAGS_presence_penalty));
  sampling.set_frequency_penalty(absl::GetFlag(FLAGS_frequency_penalty));
  sampling.set_penalty_window(absl::GetFlag(FLAGS_penalty_window));
  const uint32_t top_logprobs = absl::GetFlag(FLAGS_top_logprobs);
  sampling.set_logprobs(absl::GetFlag(FLAGS_logprobs) || top_logprobs > 0);
  sampling.set_top_logprobs(top_logprobs);
  return std::nullopt;
}

// Returns an error message when --stop-token-id or --min-new-tokens is
// invalid, and stores the stopping flags in `settings` otherwise. The server
// checks the number of stops and the length of each stop string.
std::optional<std::string> ReadStopping(BenchSettings* settings) {
  v1::StoppingCriteria& stopping = settings->stopping;
  const std::string stop = absl::GetFlag(FLAGS_stop);
  if (!stop.empty()) stopping.add_stop(stop);

  std::string error;
  const std::optional<std::vector<int32_t>> stop_token_ids = ParseTokenIdList(
      absl::GetFlag(FLAGS_stop_token_id), "--stop-token-id", &error);
  if (!stop_token_ids.has_value()) return error;
  for (const int32_t id : *stop_token_ids) stopping.add_stop_token_ids(id);

  const int32_t min_new_tokens = absl::GetFlag(FLAGS_min_new_tokens);
  if (min_new_tokens < 0 ||
      static_cast<uint32_t>(min_new_tokens) > settings->max_new_tokens) {
    return absl::StrCat("invalid --min-new-tokens=", min_new_tokens,
                        ": expected 0 to --max-new-tokens=",
                        settings->max_new_tokens);
  }
  stopping.set_min_new_tokens(static_cast<uint32_t>(min_new_tokens));
  stopping.set_include_stop_in_output(
      absl::GetFlag(FLAGS_include_stop_in_output));
  return std::nullopt;
}

// Returns an error message for the first invalid flag, and fills `settings`
// from the flags otherwise.
std::optional<std::string> ReadSettings(BenchSettings* settings) {
  settings->addr = absl::GetFlag(FLAGS_addr);
  if (settings->addr.empty()) {
    return "invalid --addr: expected HOST:PORT, got an empty string";
  }
  std::string error;
  std::optional<std::vector<int>> levels = ParseConcurrencyList(
      absl::GetFlag(FLAGS_concurrency), kMaxConcurrency, &error);
  if (!levels.has_value()) return error;
  settings->concurrency_levels = *std::move(levels);
  if (std::optional<std::string> length_error = ReadLevelLength(settings)) {
    return length_error;
  }

  settings->prompt_tokens = absl::GetFlag(FLAGS_prompt_tokens);
  if (settings->prompt_tokens < 1) {
    return absl::StrCat("invalid --prompt-tokens=", settings->prompt_tokens,
                        ": expected 1 or more");
  }
  const int32_t max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  if (max_new_tokens < 1) {
    return absl::StrCat("invalid --max-new-tokens=", max_new_tokens,
                        ": expected 1 or more");
  }
  settings->max_new_tokens = static_cast<uint32_t>(max_new_tokens);
  settings->temperature = absl::GetFlag(FLAGS_temperature);
  if (!std::isfinite(settings->temperature) || settings->temperature < 0) {
    return absl::StrCat("invalid --temperature=", settings->temperature,
                        ": expected 0 (greedy) or more");
  }
  settings->warmup_requests = absl::GetFlag(FLAGS_warmup);
  if (settings->warmup_requests < 0 ||
      settings->warmup_requests > kMaxWarmupRequests) {
    return absl::StrCat("invalid --warmup=", settings->warmup_requests,
                        ": expected 0 to ", kMaxWarmupRequests);
  }
  settings->seed = absl::GetFlag(FLAGS_seed);
  if (std::optional<std::string> stopping_error = ReadStopping(settings)) {
    return stopping_error;
  }
  return ReadSampling(settings);
}

// Returns an error message when the model cannot take the requests.
std::optional<std::string> CheckRequestsFitModel(
    const BenchSettings& settings) {
  const v1::ModelInfo& model = settings.model;
  if (model.vocab_size() <= static_cast<uint32_t>(kFirstPromptTokenId)) {
    return absl::StrCat("the model's vocab_size is ", model.vocab_size(),
                        ", but prompts need ids from ", kFirstPromptTokenId,
                        " up");
  }
  for (const int32_t id : settings.stopping.stop_token_ids()) {
    if (static_cast<uint32_t>(id) >= model.vocab_size()) {
      return absl::StrCat("invalid --stop-token-id entry ", id, ": model '",
                          model.name(), "' has vocab_size ",
                          model.vocab_size(), ", so token ids are 0 to ",
                          model.vocab_size() - 1);
    }
  }
  const uint64_t total =
      uint64_t{static_cast<uint32_t>(settings.prompt_tokens)} +
      settings.max_new_tokens;
  if (total > model.context_length()) {
    return absl::StrCat("--prompt-tokens=", settings.prompt_tokens,
                        " plus --max-new-tokens=", settings.max_new_tokens,
                        " is ", total, " tokens, more than the context_length ",
                        model.context_length(), " of model '", model.name(),
                        "'; lower one of them");
  }
  return std::nullopt;
}

void ReportRpcFailure(absl::string_view method, const grpc::Status& status,
                      const std::string& addr) {
  std::fprintf(stderr, "textgen-bench: %s failed: %s: %s\n",
               std::string(method).c_str(),
               StatusCodeName(status.error_code()).c_str(),
               status.error_message().c_str());
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::fprintf(stderr,
                 "textgen-bench: check that a textgen server is running at "
                 "%s, or pass --addr HOST:PORT\n",
                 addr.c_str());
  }
}

grpc::Status FetchModelInfo(v1::TextGeneration::StubInterface& stub,
                            v1::ModelInfo* info) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kModelInfoTimeout);
  return stub.GetModelInfo(&context, v1::GetModelInfoRequest(), info);
}

Workload MakeWorkload(const BenchSettings& settings) {
  WorkloadOptions options;
  options.vocab_size = static_cast<int32_t>(settings.model.vocab_size());
  options.prompt_tokens = settings.prompt_tokens;
  options.max_new_tokens = settings.max_new_tokens;
  options.temperature = static_cast<float>(settings.temperature);
  options.seed = settings.seed;
  options.stopping = settings.stopping;
  options.sampling = settings.sampling;
  return Workload(options);
}

// Sends the warm-up requests one at a time. Their indices are negative, so
// they differ from every measured request. Returns false after reporting
// the first failure.
bool RunWarmup(v1::TextGeneration::StubInterface& stub,
               const Workload& workload, int count) {
  if (count == 0) return true;
  std::fprintf(stderr, "textgen-bench: sending %d warm-up requests\n", count);
  for (int i = 0; i < count; ++i) {
    const RequestResult result =
        MeasureRequest(stub, workload.Request(-1 - i), nullptr);
    if (!result.ok()) {
      std::fprintf(stderr, "textgen-bench: warm-up request %d failed: %s: %s\n",
                   i + 1, result.status.c_str(), result.error_message.c_str());
      return false;
    }
  }
  return true;
}

void ReportFirstError(const LevelRun& run, const LevelSummary& summary) {
  for (const RequestResult& request : run.requests) {
    if (request.ok()) continue;
    std::fprintf(stderr,
                 "textgen-bench: %lld requests failed at concurrency %d; "
                 "the first: %s: %s\n",
                 static_cast<long long>(summary.requests_failed),
                 summary.concurrency, request.status.c_str(),
                 request.error_message.c_str());
    return;
  }
}

LevelSummary RunLevelWithProgress(v1::TextGeneration::StubInterface& stub,
                                  const Workload& workload,
                                  const BenchSettings& settings,
                                  size_t level_index) {
  LevelPlan plan;
  plan.concurrency = settings.concurrency_levels[level_index];
  plan.requests = settings.requests;
  plan.duration_seconds = settings.duration_seconds;

  ProgressTarget target;
  target.label = absl::StrCat("level ", level_index + 1, "/",
                              settings.concurrency_levels.size(),
                              "  concurrency ", plan.concurrency);
  target.requests = settings.requests;
  target.duration_seconds = settings.duration_seconds;

  LevelCounters counters;
  LevelRun run;
  {
    ProgressDisplay display(target, &counters, isatty(STDERR_FILENO) == 1);
    run = RunLevel(stub, workload, plan, &counters);
  }
  const LevelSummary summary =
      SummarizeLevel(plan.concurrency, run.wall_seconds, run.requests);
  ReportFirstError(run, summary);
  return summary;
}

// Writes the SVG plot of the sweep to `path`. Returns false after reporting
// a failure.
bool WritePlot(const std::string& path, const BenchSettings& settings,
               const std::vector<LevelSummary>& levels) {
  const std::string title =
      absl::StrCat("textgen-bench: ", settings.model.name());
  const std::string svg =
      RenderSweepSvg(title, DescribeSettings(settings), levels);
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << svg;
  file.close();
  if (!file) {
    std::fprintf(stderr, "textgen-bench: writing the plot to %s failed\n",
                 path.c_str());
    return false;
  }
  return true;
}

bool AnyRequestFailed(const std::vector<LevelSummary>& levels) {
  for (const LevelSummary& level : levels) {
    if (level.requests_failed > 0) return true;
  }
  return false;
}

// Runs every level and prints the report. Returns the exit status.
int RunSweep(v1::TextGeneration::StubInterface& stub,
             const BenchSettings& settings) {
  const Workload workload = MakeWorkload(settings);
  if (!RunWarmup(stub, workload, settings.warmup_requests)) {
    return kExitFailure;
  }

  const bool json = absl::GetFlag(FLAGS_json);
  if (!json) {
    std::printf("textgen-bench: %s\n\n%s", DescribeSettings(settings).c_str(),
                FormatTableHeader().c_str());
    std::fflush(stdout);
  }
  std::vector<LevelSummary> levels;
  for (size_t i = 0; i < settings.concurrency_levels.size(); ++i) {
    levels.push_back(RunLevelWithProgress(stub, workload, settings, i));
    if (!json) {
      std::fputs(FormatTableRow(levels.back()).c_str(), stdout);
      std::fflush(stdout);
    }
  }
  if (json) std::fputs(FormatJsonReport(settings, levels).c_str(), stdout);

  const std::string plot_path = absl::GetFlag(FLAGS_plot);
  if (!plot_path.empty() && !WritePlot(plot_path, settings, levels)) {
    return kExitFailure;
  }
  if (std::fflush(stdout) != 0) {
    std::fprintf(stderr, "textgen-bench: writing to stdout failed\n");
    return kExitFailure;
  }
  return AnyRequestFailed(levels) ? kExitFailure : 0;
}

int Run(int argc, char** argv) {
  ConfigureUsage();
  BenchSettings settings;
  std::optional<std::string> error = ParseFlags(argc, argv);
  if (!error.has_value()) error = ReadSettings(&settings);
  if (error.has_value()) {
    std::fprintf(stderr, "textgen-bench: %s\n", error->c_str());
    return kExitUsage;
  }

  std::unique_ptr<v1::TextGeneration::Stub> stub = v1::TextGeneration::NewStub(
      grpc::CreateChannel(settings.addr, grpc::InsecureChannelCredentials()));
  const grpc::Status status = FetchModelInfo(*stub, &settings.model);
  if (!status.ok()) {
    ReportRpcFailure("GetModelInfo", status, settings.addr);
    return kExitFailure;
  }
  if (std::optional<std::string> fit_error = CheckRequestsFitModel(settings)) {
    std::fprintf(stderr, "textgen-bench: %s\n", fit_error->c_str());
    return kExitUsage;
  }
  return RunSweep(*stub, settings);
}

}  // namespace
}  // namespace textgen::bench

int main(int argc, char** argv) { return textgen::bench::Run(argc, argv); }
