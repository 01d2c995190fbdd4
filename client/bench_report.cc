#include "client/bench_report.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace textgen::bench {
namespace {

// Formats milliseconds with three significant digits or more, or "-" when
// there were no samples.
std::string FormatMilliseconds(const std::optional<double>& value) {
  if (!value.has_value()) return "-";
  if (*value < 10) return absl::StrFormat("%.2f", *value);
  if (*value < 1000) return absl::StrFormat("%.1f", *value);
  return absl::StrFormat("%.0f", *value);
}

std::string FormatRate(const std::optional<double>& value) {
  if (!value.has_value()) return "-";
  return absl::StrFormat("%.1f", *value);
}

std::string FormatErrors(const LevelSummary& level) {
  std::vector<std::string> parts;
  for (const auto& [status, count] : level.errors_by_status) {
    parts.push_back(absl::StrCat(status, " ", count));
  }
  return absl::StrCat("    errors: ", absl::StrJoin(parts, ", "), "\n");
}

nlohmann::ordered_json ToJson(const std::optional<double>& value) {
  if (!value.has_value()) return nullptr;
  return *value;
}

// The sampling fields besides temperature and seed. JSON object keys are
// strings, so logit_bias maps token ids written in decimal to biases.
nlohmann::ordered_json SamplingToJson(const v1::SamplingParams& sampling) {
  const std::map<int32_t, float> sorted_bias(sampling.logit_bias().begin(),
                                             sampling.logit_bias().end());
  nlohmann::ordered_json logit_bias = nlohmann::ordered_json::object();
  for (const auto& [id, bias] : sorted_bias) logit_bias[std::to_string(id)] = bias;
  return {
      {"top_k", sampling.top_k()},
      {"top_p", sampling.top_p()},
      {"min_p", sampling.min_p()},
      {"repetition_penalty", sampling.repetition_penalty()},
      {"presence_penalty", sampling.presence_penalty()},
      {"frequency_penalty", sampling.frequency_penalty()},
      {"penalty_window", sampling.penalty_window()},
      {"logit_bias", logit_bias},
      {"logprobs", sampling.logprobs()},
      {"top_logprobs", sampling.top_logprobs()},
  };
}

// Returns ", " followed by the sampling fields that are not at their
// defaults, or an empty string when all are.
std::string DescribeSampling(const v1::SamplingParams& sampling) {
  std::vector<std::string> parts;
  if (sampling.top_k() != 0) parts.push_back(absl::StrCat("top_k ", sampling.top_k()));
  if (sampling.top_p() != 0) parts.push_back(absl::StrCat("top_p ", sampling.top_p()));
  if (sampling.min_p() != 0) parts.push_back(absl::StrCat("min_p ", sampling.min_p()));
  if (sampling.repetition_penalty() != 0) {
    parts.push_back(absl::StrCat("repetition_penalty ", sampling.repetition_penalty()));
  }
  if (sampling.presence_penalty() != 0) {
    parts.push_back(absl::StrCat("presence_penalty ", sampling.presence_penalty()));
  }
  if (sampling.frequency_penalty() != 0) {
    parts.push_back(absl::StrCat("frequency_penalty ", sampling.frequency_penalty()));
  }
  if (sampling.penalty_window() != 0) {
    parts.push_back(absl::StrCat("penalty_window ", sampling.penalty_window()));
  }
  if (const int biases = sampling.logit_bias_size(); biases != 0) {
    parts.push_back(absl::StrCat(biases, biases == 1 ? " logit bias" : " logit biases"));
  }
  if (sampling.logprobs()) {
    parts.push_back(absl::StrCat("logprobs with top ", sampling.top_logprobs()));
  }
  if (parts.empty()) return "";
  return absl::StrCat(", ", absl::StrJoin(parts, ", "));
}

nlohmann::ordered_json SettingsToJson(const BenchSettings& settings) {
  nlohmann::ordered_json parameters = {
      {"addr", settings.addr},
      {"concurrency", settings.concurrency_levels},
      {"requests", nullptr},
      {"duration_seconds", ToJson(settings.duration_seconds)},
      {"warmup", settings.warmup_requests},
      {"prompt_tokens", settings.prompt_tokens},
      {"max_new_tokens", settings.max_new_tokens},
      {"temperature", settings.temperature},
      {"seed", settings.seed},
      {"stop", std::vector<std::string>(settings.stopping.stop().begin(),
                                        settings.stopping.stop().end())},
      {"stop_token_ids",
       std::vector<int32_t>(settings.stopping.stop_token_ids().begin(),
                            settings.stopping.stop_token_ids().end())},
      {"min_new_tokens", settings.stopping.min_new_tokens()},
      {"include_stop_in_output", settings.stopping.include_stop_in_output()},
      {"sampling", SamplingToJson(settings.sampling)},
  };
  if (settings.requests.has_value())
    parameters["requests"] = *settings.requests;
  return parameters;
}

nlohmann::ordered_json ModelToJson(const v1::ModelInfo& model) {
  return {
      {"name", model.name()},
      {"architecture", model.architecture()},
      {"context_length", model.context_length()},
      {"vocab_size", model.vocab_size()},
      {"parameter_count", model.parameter_count()},
      {"weight_type", model.weight_type()},
  };
}

nlohmann::ordered_json LevelToJson(const LevelSummary& level) {
  nlohmann::ordered_json errors = nlohmann::ordered_json::object();
  for (const auto& [status, count] : level.errors_by_status) {
    errors[status] = count;
  }
  return {
      {"concurrency", level.concurrency},
      {"requests_ok", level.requests_ok},
      {"requests_failed", level.requests_failed},
      {"errors_by_status", errors},
      {"wall_seconds", level.wall_seconds},
      {"generated_tokens", level.generated_tokens},
      {"generated_tokens_per_second", level.generated_tokens_per_second},
      {"time_to_first_token_ms",
       {{"p50", ToJson(level.time_to_first_token_p50_ms)},
        {"p90", ToJson(level.time_to_first_token_p90_ms)},
        {"p99", ToJson(level.time_to_first_token_p99_ms)}}},
      {"inter_token_ms",
       {{"p50", ToJson(level.inter_token_p50_ms)},
        {"p99", ToJson(level.inter_token_p99_ms)}}},
      {"end_to_end_ms",
       {{"p50", ToJson(level.end_to_end_p50_ms)},
        {"p99", ToJson(level.end_to_end_p99_ms)}}},
      {"stream_tokens_per_second_mean",
       ToJson(level.stream_tokens_per_second_mean)},
  };
}

}  // namespace

std::string DescribeSettings(const BenchSettings& settings) {
  const std::string length =
      settings.requests.has_value()
          ? absl::StrCat(*settings.requests, " requests per level")
          : absl::StrCat(settings.duration_seconds.value_or(0), " s per level");
  return absl::StrFormat(
      "%s (%s, %s): prompt %d tokens, max_new_tokens %d, temperature %g, "
      "seed %d%s, %s",
      settings.model.name(), settings.model.architecture(),
      settings.model.weight_type(), settings.prompt_tokens,
      settings.max_new_tokens, settings.temperature, settings.seed,
      DescribeSampling(settings.sampling), length);
}

std::string FormatTableHeader() {
  return absl::StrCat(
      absl::StrFormat("%11s %13s %10s  %24s  %16s  %18s  %10s\n", "",
                      "requests", "generated", "time to first token (ms)",
                      "inter-token (ms)", "end-to-end (ms)", "per stream"),
      absl::StrFormat("%11s %6s %6s %10s  %8s%8s%8s  %8s%8s  %9s%9s  %10s\n",
                      "concurrency", "ok", "failed", "tokens/s", "p50", "p90",
                      "p99", "p50", "p99", "p50", "p99", "tokens/s"));
}

std::string FormatTableRow(const LevelSummary& level) {
  std::string row =
      absl::StrFormat("%11d %6d %6d %10.1f  %8s%8s%8s  %8s%8s  %9s%9s  %10s\n",
                      level.concurrency, level.requests_ok,
                      level.requests_failed, level.generated_tokens_per_second,
                      FormatMilliseconds(level.time_to_first_token_p50_ms),
                      FormatMilliseconds(level.time_to_first_token_p90_ms),
                      FormatMilliseconds(level.time_to_first_token_p99_ms),
                      FormatMilliseconds(level.inter_token_p50_ms),
                      FormatMilliseconds(level.inter_token_p99_ms),
                      FormatMilliseconds(level.end_to_end_p50_ms),
                      FormatMilliseconds(level.end_to_end_p99_ms),
                      FormatRate(level.stream_tokens_per_second_mean));
  if (level.requests_failed > 0) absl::StrAppend(&row, FormatErrors(level));
  return row;
}

std::string FormatJsonReport(const BenchSettings& settings,
                             const std::vector<LevelSummary>& levels) {
  nlohmann::ordered_json levels_json = nlohmann::ordered_json::array();
  for (const LevelSummary& level : levels) {
    levels_json.push_back(LevelToJson(level));
  }
  const nlohmann::ordered_json report = {
      {"parameters", SettingsToJson(settings)},
      {"model", ModelToJson(settings.model)},
      {"levels", levels_json},
  };
  return report.dump(2) + "\n";
}

}  // namespace textgen::bench
