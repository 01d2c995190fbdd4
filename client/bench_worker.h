// The closed-loop workers of textgen-bench: each keeps exactly one Generate
// call in flight and starts the next one when it ends.

#ifndef TEXTGEN_CLIENT_BENCH_WORKER_H_
#define TEXTGEN_CLIENT_BENCH_WORKER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client/bench_progress.h"
#include "client/bench_stats.h"
#include "client/bench_workload.h"
#include "grpcpp/support/status.h"
#include "textgen/v1/textgen.grpc.pb.h"

namespace textgen::bench {

// How long one concurrency level runs. Exactly one of `requests` and
// `duration_seconds` is set.
struct LevelPlan {
  int concurrency = 1;
  // Requests to complete. The level ends when the last one ends.
  std::optional<int64_t> requests;
  // No request starts after this. The level ends when the running ones end.
  std::optional<double> duration_seconds;
};

// Every request of one level, grouped by worker.
struct LevelRun {
  std::vector<RequestResult> requests;
  // From starting the workers to the end of the last request.
  double wall_seconds = 0;
};

// Returns the name of `code`, such as "RESOURCE_EXHAUSTED".
std::string StatusCodeName(grpc::StatusCode code);

// Sends `request` and measures it. Updates `counters` as tokens arrive and
// when the call ends, unless `counters` is null.
RequestResult MeasureRequest(v1::TextGeneration::StubInterface& stub,
                             const v1::GenerateRequest& request,
                             LevelCounters* counters);

// Runs `plan.concurrency` workers that send workload requests 0, 1, 2, ...
// until the plan ends.
LevelRun RunLevel(v1::TextGeneration::StubInterface& stub,
                  const Workload& workload, const LevelPlan& plan,
                  LevelCounters* counters);

}  // namespace textgen::bench

#endif  // TEXTGEN_CLIENT_BENCH_WORKER_H_
