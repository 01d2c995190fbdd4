#ifndef TEXTGEN_SERVER_METRICS_H_
#define TEXTGEN_SERVER_METRICS_H_

#include <grpcpp/grpcpp.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "engine/generate/sequence.h"
#include "engine/schedule/scheduler.h"

namespace textgen {

// The labels of the textgen_info gauge.
struct ServerInfo {
  std::string version;
  std::string model;
  std::string architecture;
  std::string weight_type;
};

// The server's Prometheus metrics (names in server/metric_names.h). Counters
// and histograms are updated as calls and engine steps happen; gauges of the
// scheduler and the process are read when Prometheus scrapes. Thread-safe.
class ServerMetrics {
 public:
  ServerMetrics();

  // Exports the textgen_info gauge; called once, when the model is known.
  void SetInfo(const ServerInfo& info);

  // Reads the running and waiting requests, KV-cache use and preemptions of
  // `scheduler` at each scrape. `scheduler` must outlive every scrape.
  void WatchScheduler(const Scheduler* scheduler);
  // Points the scheduler's observers at these metrics, keeping the observers
  // `options` already has.
  void ObserveScheduler(SchedulerOptions& options);

  // One Generate call.
  void RecordTimeToFirstToken(absl::Duration time);
  void RecordGeneratedTokens(int64_t count);
  // The prompt of a call that ran, whether or not its client stayed.
  void RecordPromptTokens(int64_t count);
  // A call that ended with a Completion after `duration`.
  void RecordCompletion(const GenerationResult& result, absl::Duration duration);
  // A call that ended with a non-OK status.
  void RecordError(grpc::StatusCode code);

  // What a metrics endpoint serves.
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables() const;

 private:
  class ScrapeTimeValues;

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<ScrapeTimeValues> scrape_time_values_;

  prometheus::Histogram& time_to_first_token_;
  prometheus::Histogram& inter_token_latency_;
  prometheus::Histogram& request_duration_;
  prometheus::Histogram& queue_time_;
  prometheus::Histogram& step_tokens_;
  prometheus::Histogram& step_duration_;
  prometheus::Counter& prompt_tokens_;
  prometheus::Counter& generated_tokens_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& request_errors_;
};

}  // namespace textgen

#endif  // TEXTGEN_SERVER_METRICS_H_
