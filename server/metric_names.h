#ifndef TEXTGEN_SERVER_METRIC_NAMES_H_
#define TEXTGEN_SERVER_METRIC_NAMES_H_

// Every metric textgen-server exports, in one place. The README's metrics
// table, the Grafana dashboard and the alert rules use these names, and a
// test checks that each name they use is defined here.
//
// Units follow Prometheus conventions: seconds, bytes, and `_total` at the
// end of every counter.
namespace textgen::metric_names {

// Histograms of one call's latency, in seconds.
inline constexpr char kTimeToFirstToken[] = "textgen_time_to_first_token_seconds";
inline constexpr char kInterTokenLatency[] = "textgen_inter_token_latency_seconds";
inline constexpr char kRequestDuration[] = "textgen_request_duration_seconds";
inline constexpr char kQueueTime[] = "textgen_queue_time_seconds";

// Counters.
inline constexpr char kPromptTokens[] = "textgen_prompt_tokens_total";
inline constexpr char kGeneratedTokens[] = "textgen_generated_tokens_total";
// Calls that ended with a Completion, by label kFinishReasonLabel.
inline constexpr char kRequests[] = "textgen_requests_total";
// Calls that ended with a non-OK status, by label kCodeLabel.
inline constexpr char kRequestErrors[] = "textgen_request_errors_total";
inline constexpr char kPreemptions[] = "textgen_preemptions_total";

// Gauges read at scrape time.
inline constexpr char kRunningRequests[] = "textgen_running_requests";
inline constexpr char kWaitingRequests[] = "textgen_waiting_requests";
inline constexpr char kKvCacheUsage[] = "textgen_kv_cache_usage_ratio";

// Histograms of the engine's steps.
inline constexpr char kStepTokens[] = "textgen_step_tokens";
inline constexpr char kStepDuration[] = "textgen_step_duration_seconds";

// The process, with the names Prometheus's own client libraries use.
inline constexpr char kProcessResidentMemory[] = "process_resident_memory_bytes";
inline constexpr char kProcessCpuSeconds[] = "process_cpu_seconds_total";
inline constexpr char kProcessStartTime[] = "process_start_time_seconds";

// Always 1, with labels naming the server's version, model and weight type.
inline constexpr char kInfo[] = "textgen_info";

// Label names.
inline constexpr char kFinishReasonLabel[] = "finish_reason";
inline constexpr char kCodeLabel[] = "code";

}  // namespace textgen::metric_names

#endif  // TEXTGEN_SERVER_METRIC_NAMES_H_
