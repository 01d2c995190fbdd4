// Statistics of textgen-bench: what one request measured, nearest-rank
// percentiles, and the summary of one concurrency level.

#ifndef TEXTGEN_CLIENT_BENCH_STATS_H_
#define TEXTGEN_CLIENT_BENCH_STATS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace textgen::bench {

// The status name of a stream that ended with OK but sent no Completion.
inline constexpr char kMissingCompletion[] = "MISSING_COMPLETION";

// Client-side measurements of one Generate call. Times are in milliseconds
// from the start of the call.
struct RequestResult {
  // "OK", a gRPC status code name such as "RESOURCE_EXHAUSTED", or
  // kMissingCompletion.
  std::string status = "OK";
  // The status message of a failed call.
  std::string error_message;
  // Time until the first chunk with token ids, empty when no token arrived.
  std::optional<double> time_to_first_token_ms;
  // One sample per token after the first chunk: the time since the previous
  // chunk divided by the token ids in the chunk.
  std::vector<double> inter_token_ms;
  double end_to_end_ms = 0;
  // Completion.generated_tokens, or 0 when the call failed.
  int64_t generated_tokens = 0;

  bool ok() const { return status == "OK"; }
};

// The figures of one concurrency level. Latency figures come from the
// successful requests only, and are empty when no request succeeded.
struct LevelSummary {
  int concurrency = 0;
  int64_t requests_ok = 0;
  int64_t requests_failed = 0;
  // Failed requests by status name.
  std::map<std::string, int64_t> errors_by_status;
  // From starting the first request to the end of the last one.
  double wall_seconds = 0;
  int64_t generated_tokens = 0;
  // generated_tokens / wall_seconds.
  double generated_tokens_per_second = 0;
  std::optional<double> time_to_first_token_p50_ms;
  std::optional<double> time_to_first_token_p90_ms;
  std::optional<double> time_to_first_token_p99_ms;
  std::optional<double> inter_token_p50_ms;
  std::optional<double> inter_token_p99_ms;
  std::optional<double> end_to_end_p50_ms;
  std::optional<double> end_to_end_p99_ms;
  // Mean over successful requests of generated tokens / end-to-end time.
  std::optional<double> stream_tokens_per_second_mean;
};

// Returns the nearest-rank percentile of `sorted_samples`, which must be in
// ascending order: the sample at 1-based rank ceil(percentile / 100 * n),
// and the first sample for percentile 0. `percentile` is clamped to
// [0, 100]. Returns nullopt when there are no samples.
std::optional<double> NearestRankPercentile(
    std::span<const double> sorted_samples, double percentile);

// Summarizes the requests of one level that ran for `wall_seconds`.
LevelSummary SummarizeLevel(int concurrency, double wall_seconds,
                            const std::vector<RequestResult>& requests);

}  // namespace textgen::bench

#endif  // TEXTGEN_CLIENT_BENCH_STATS_H_
