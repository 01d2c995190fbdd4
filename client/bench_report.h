// The reports of textgen-bench: a text table with one row per concurrency
// level, or one JSON document for the whole sweep.

#ifndef TEXTGEN_CLIENT_BENCH_REPORT_H_
#define TEXTGEN_CLIENT_BENCH_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client/bench_stats.h"
#include "textgen/v1/textgen.pb.h"

namespace textgen::bench {

// The parameters of a sweep and the model it ran against.
struct BenchSettings {
  std::string addr;
  v1::ModelInfo model;
  std::vector<int> concurrency_levels;
  // Exactly one of these is set.
  std::optional<int64_t> requests;
  std::optional<double> duration_seconds;
  int warmup_requests = 0;
  int prompt_tokens = 0;
  uint32_t max_new_tokens = 0;
  double temperature = 0;
  uint64_t seed = 0;
  // stop, stop_token_ids, min_new_tokens and include_stop_in_output of every
  // request. Its max_new_tokens and ignore_eos are unused.
  v1::StoppingCriteria stopping;
  // min_p, the penalties, logit_bias and logprobs of every request.
  v1::SamplingParams sampling;
};

// Returns the model and the parameters as one line, for titles.
std::string DescribeSettings(const BenchSettings& settings);

// Returns the two header lines of the table, each ending with '\n'.
std::string FormatTableHeader();

// Returns the table row of `level`, followed by a line with its errors by
// status name when some requests failed.
std::string FormatTableRow(const LevelSummary& level);

// Returns the sweep as a JSON document with "parameters", "model" and
// "levels"; percentiles of a level without samples are null.
std::string FormatJsonReport(const BenchSettings& settings,
                             const std::vector<LevelSummary>& levels);

}  // namespace textgen::bench

#endif  // TEXTGEN_CLIENT_BENCH_REPORT_H_
