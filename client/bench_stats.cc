#include "client/bench_stats.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace textgen::bench {
namespace {

// The samples that the percentiles of a level are taken of, sorted.
struct SortedSamples {
  std::vector<double> time_to_first_token_ms;
  std::vector<double> inter_token_ms;
  std::vector<double> end_to_end_ms;
};

SortedSamples CollectSamples(const std::vector<RequestResult>& requests) {
  SortedSamples samples;
  for (const RequestResult& request : requests) {
    if (!request.ok()) continue;
    if (request.time_to_first_token_ms.has_value()) {
      samples.time_to_first_token_ms.push_back(*request.time_to_first_token_ms);
    }
    samples.inter_token_ms.insert(samples.inter_token_ms.end(),
                                  request.inter_token_ms.begin(),
                                  request.inter_token_ms.end());
    samples.end_to_end_ms.push_back(request.end_to_end_ms);
  }
  std::sort(samples.time_to_first_token_ms.begin(),
            samples.time_to_first_token_ms.end());
  std::sort(samples.inter_token_ms.begin(), samples.inter_token_ms.end());
  std::sort(samples.end_to_end_ms.begin(), samples.end_to_end_ms.end());
  return samples;
}

void CountRequests(const std::vector<RequestResult>& requests,
                   LevelSummary* summary) {
  for (const RequestResult& request : requests) {
    if (request.ok()) {
      ++summary->requests_ok;
      summary->generated_tokens += request.generated_tokens;
    } else {
      ++summary->requests_failed;
      ++summary->errors_by_status[request.status];
    }
  }
}

std::optional<double> MeanStreamTokensPerSecond(
    const std::vector<RequestResult>& requests) {
  double sum = 0;
  int64_t count = 0;
  for (const RequestResult& request : requests) {
    if (!request.ok() || request.end_to_end_ms <= 0) continue;
    sum += request.generated_tokens / (request.end_to_end_ms / 1000);
    ++count;
  }
  if (count == 0) return std::nullopt;
  return sum / count;
}

}  // namespace

std::optional<double> NearestRankPercentile(
    std::span<const double> sorted_samples, double percentile) {
  if (sorted_samples.empty()) return std::nullopt;
  const double clamped = std::clamp(percentile, 0.0, 100.0);
  const size_t count = sorted_samples.size();
  // Multiplying before dividing keeps the rank exact for whole percentiles:
  // 7 / 100.0 * 100 is 7.000000000000001, whose ceiling would be rank 8.
  const double rank = std::ceil(clamped * static_cast<double>(count) / 100.0);
  const size_t index =
      std::clamp(static_cast<size_t>(rank), size_t{1}, count) - 1;
  return sorted_samples[index];
}

LevelSummary SummarizeLevel(int concurrency, double wall_seconds,
                            const std::vector<RequestResult>& requests) {
  LevelSummary summary;
  summary.concurrency = concurrency;
  summary.wall_seconds = wall_seconds;
  CountRequests(requests, &summary);
  if (wall_seconds > 0) {
    summary.generated_tokens_per_second =
        summary.generated_tokens / wall_seconds;
  }

  const SortedSamples samples = CollectSamples(requests);
  summary.time_to_first_token_p50_ms =
      NearestRankPercentile(samples.time_to_first_token_ms, 50);
  summary.time_to_first_token_p90_ms =
      NearestRankPercentile(samples.time_to_first_token_ms, 90);
  summary.time_to_first_token_p99_ms =
      NearestRankPercentile(samples.time_to_first_token_ms, 99);
  summary.inter_token_p50_ms =
      NearestRankPercentile(samples.inter_token_ms, 50);
  summary.inter_token_p99_ms =
      NearestRankPercentile(samples.inter_token_ms, 99);
  summary.end_to_end_p50_ms = NearestRankPercentile(samples.end_to_end_ms, 50);
  summary.end_to_end_p99_ms = NearestRankPercentile(samples.end_to_end_ms, 99);
  summary.stream_tokens_per_second_mean = MeanStreamTokensPerSecond(requests);
  return summary;
}

}  // namespace textgen::bench
