#include "server/metrics.h"

#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/metric_names.h"
#include "server/process_stats.h"

namespace textgen {
namespace {

namespace names = metric_names;
using prometheus::Histogram;

// Latency buckets, from a millisecond to minutes.
const Histogram::BucketBoundaries& LatencyBuckets() {
  static const Histogram::BucketBoundaries buckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
      1,     2.5,    5,     10,   30,    60,   120, 300};
  return buckets;
}

const Histogram::BucketBoundaries& InterTokenBuckets() {
  static const Histogram::BucketBoundaries buckets = {
      0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15,
      0.2,   0.3,    0.5,   1,    2.5,  5,    10,   30,    60};
  return buckets;
}

const Histogram::BucketBoundaries& RequestDurationBuckets() {
  static const Histogram::BucketBoundaries buckets = {
      0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600};
  return buckets;
}

const Histogram::BucketBoundaries& StepDurationBuckets() {
  static const Histogram::BucketBoundaries buckets = {
      0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5};
  return buckets;
}

const Histogram::BucketBoundaries& StepTokenBuckets() {
  static const Histogram::BucketBoundaries buckets = {1,  2,   4,   8,   16,   32,
                                                      64, 128, 256, 512, 1024, 2048};
  return buckets;
}

Histogram& AddHistogram(prometheus::Registry& registry, const char* name, const char* help,
                        const Histogram::BucketBoundaries& buckets) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry).Add({}, buckets);
}

prometheus::Counter& AddCounter(prometheus::Registry& registry, const char* name,
                                const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

const char* FinishReasonLabel(FinishReason reason) {
  switch (reason) {
    case FinishReason::kEndOfSequence: return "eos";
    case FinishReason::kLength: return "length";
    case FinishReason::kStopSequence: return "stop_sequence";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "unspecified";
}

}  // namespace

// Values read when Prometheus scrapes: the scheduler's gauges and counters,
// and the process's memory and CPU time.
class ServerMetrics::ScrapeTimeValues : public prometheus::Collectable {
 public:
  void Watch(const Scheduler* scheduler) {
    absl::MutexLock lock(&mutex_);
    scheduler_ = scheduler;
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> families;
    CollectScheduler(families);
    CollectProcess(families);
    return families;
  }

 private:
  static void AddValue(std::vector<prometheus::MetricFamily>& families, const char* name,
                       const char* help, prometheus::MetricType type, double value) {
    prometheus::MetricFamily family{name, help, type, {}};
    prometheus::ClientMetric metric;
    if (type == prometheus::MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    family.metric.push_back(std::move(metric));
    families.push_back(std::move(family));
  }

  void CollectScheduler(std::vector<prometheus::MetricFamily>& families) const {
    absl::MutexLock lock(&mutex_);
    if (scheduler_ == nullptr) return;
    using prometheus::MetricType;
    AddValue(families, names::kRunningRequests, "Requests in the running batch.",
             MetricType::Gauge, static_cast<double>(scheduler_->running()));
    AddValue(families, names::kWaitingRequests,
             "Requests queued for the running batch, preempted ones included.", MetricType::Gauge,
             static_cast<double>(scheduler_->waiting()));
    const double total = static_cast<double>(scheduler_->kv_blocks_total());
    AddValue(families, names::kKvCacheUsage, "Fraction of the KV-cache blocks in use, 0 to 1.",
             MetricType::Gauge, total > 0 ? scheduler_->kv_blocks_used() / total : 0.0);
    AddValue(families, names::kPreemptions,
             "Sequences preempted because the KV cache was full; each is recomputed later.",
             MetricType::Counter, static_cast<double>(scheduler_->preemptions()));
  }

  static void CollectProcess(std::vector<prometheus::MetricFamily>& families) {
    absl::StatusOr<ProcessStats> stats = ReadProcessStats();
    if (!stats.ok()) return;  // no /proc: the process metrics are left out
    using prometheus::MetricType;
    AddValue(families, names::kProcessResidentMemory, "Resident memory size in bytes.",
             MetricType::Gauge, stats->resident_bytes);
    AddValue(families, names::kProcessCpuSeconds, "User and system CPU time in seconds.",
             MetricType::Counter, stats->cpu_seconds);
    AddValue(families, names::kProcessStartTime,
             "Start time of the process in seconds since the Unix epoch.", MetricType::Gauge,
             stats->start_time_seconds);
  }

  mutable absl::Mutex mutex_;
  const Scheduler* scheduler_ ABSL_GUARDED_BY(mutex_) = nullptr;
};

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      scrape_time_values_(std::make_shared<ScrapeTimeValues>()),
      time_to_first_token_(AddHistogram(
          *registry_, names::kTimeToFirstToken,
          "Time from the arrival of a Generate call to its first token, in seconds.",
          LatencyBuckets())),
      inter_token_latency_(AddHistogram(
          *registry_, names::kInterTokenLatency,
          "Time between two successive tokens of one request, in seconds.",
          InterTokenBuckets())),
      request_duration_(AddHistogram(
          *registry_, names::kRequestDuration,
          "Time from the arrival of a Generate call to its Completion, in seconds.",
          RequestDurationBuckets())),
      queue_time_(AddHistogram(*registry_, names::kQueueTime,
                               "Time a request waited before its first engine step, in seconds.",
                               LatencyBuckets())),
      step_tokens_(AddHistogram(*registry_, names::kStepTokens,
                                "Tokens in one engine step over all of its sequences.",
                                StepTokenBuckets())),
      step_duration_(AddHistogram(*registry_, names::kStepDuration,
                                  "Time of one engine step, in seconds.", StepDurationBuckets())),
      prompt_tokens_(AddCounter(*registry_, names::kPromptTokens,
                                "Prompt tokens of the Generate calls that ran.")),
      generated_tokens_(AddCounter(*registry_, names::kGeneratedTokens,
                                   "Tokens generated and sent to clients.")),
      requests_(prometheus::BuildCounter()
                    .Name(names::kRequests)
                    .Help("Generate calls that ended with a Completion, by finish reason.")
                    .Register(*registry_)),
      request_errors_(prometheus::BuildCounter()
                          .Name(names::kRequestErrors)
                          .Help("Generate calls that ended with a non-OK status, by gRPC code.")
                          .Register(*registry_)) {
  // Every finish reason is exported from the start, so that rate() counts
  // its first increase.
  for (FinishReason reason : {FinishReason::kEndOfSequence, FinishReason::kLength,
                              FinishReason::kStopSequence, FinishReason::kCancelled}) {
    requests_.Add({{names::kFinishReasonLabel, FinishReasonLabel(reason)}});
  }
}

void ServerMetrics::SetInfo(const ServerInfo& info) {
  prometheus::BuildGauge()
      .Name(names::kInfo)
      .Help("Always 1; the labels name the server version, the model and its weight type.")
      .Register(*registry_)
      .Add({{"version", info.version},
            {"model", info.model},
            {"architecture", info.architecture},
            {"weight_type", info.weight_type}})
      .Set(1);
}

void ServerMetrics::WatchScheduler(const Scheduler* scheduler) {
  scrape_time_values_->Watch(scheduler);
}

void ServerMetrics::ObserveScheduler(SchedulerOptions& options) {
  options.step_observer = [this, next = std::move(options.step_observer)](const StepReport& step) {
    step_tokens_.Observe(static_cast<double>(step.tokens));
    step_duration_.Observe(absl::ToDoubleSeconds(step.duration));
    if (next) next(step);
  };
  options.queue_observer = [this, next = std::move(options.queue_observer)](absl::Duration time) {
    queue_time_.Observe(absl::ToDoubleSeconds(time));
    if (next) next(time);
  };
  options.token_interval_observer = [this, next = std::move(options.token_interval_observer)](
                                        absl::Duration time) {
    inter_token_latency_.Observe(absl::ToDoubleSeconds(time));
    if (next) next(time);
  };
}

void ServerMetrics::RecordTimeToFirstToken(absl::Duration time) {
  time_to_first_token_.Observe(absl::ToDoubleSeconds(time));
}

void ServerMetrics::RecordGeneratedTokens(int64_t count) {
  generated_tokens_.Increment(static_cast<double>(count));
}

void ServerMetrics::RecordPromptTokens(int64_t count) {
  prompt_tokens_.Increment(static_cast<double>(count));
}

void ServerMetrics::RecordCompletion(const GenerationResult& result, absl::Duration duration) {
  requests_.Add({{names::kFinishReasonLabel, FinishReasonLabel(result.finish_reason)}})
      .Increment();
  request_duration_.Observe(absl::ToDoubleSeconds(duration));
}

void ServerMetrics::RecordError(grpc::StatusCode code) {
  // gRPC's codes have the same numbers as Abseil's, which can name them.
  const std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  request_errors_.Add({{names::kCodeLabel, name}}).Increment();
}

std::vector<std::weak_ptr<prometheus::Collectable>> ServerMetrics::collectables() const {
  return {registry_, scrape_time_values_};
}

}  // namespace textgen
