#include "client/bench_worker.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"

namespace textgen::bench {
namespace {

using Clock = std::chrono::steady_clock;

double ToMilliseconds(Clock::duration duration) {
  return std::chrono::duration<double, std::milli>(duration).count();
}

// Hands out request indices to the workers of one level until its plan ends.
class RequestDispatcher {
 public:
  explicit RequestDispatcher(const LevelPlan& plan) : limit_(plan.requests) {
    if (plan.duration_seconds.has_value()) {
      deadline_ = Clock::now() +
                  std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(*plan.duration_seconds));
    }
  }

  // Returns the index of the next request to send, or nullopt when the
  // level sends no more.
  std::optional<int64_t> Next() {
    if (deadline_.has_value() && Clock::now() >= *deadline_) {
      return std::nullopt;
    }
    const int64_t index = next_index_.fetch_add(1);
    if (limit_.has_value() && index >= *limit_) return std::nullopt;
    return index;
  }

 private:
  const std::optional<int64_t> limit_;
  std::optional<Clock::time_point> deadline_;
  std::atomic<int64_t> next_index_{0};
};

// Records the arrival of a chunk of `token_count` tokens at `now`.
void RecordChunk(Clock::time_point start, Clock::time_point now,
                 int token_count, std::optional<Clock::time_point>* previous,
                 RequestResult* result) {
  if (!previous->has_value()) {
    result->time_to_first_token_ms = ToMilliseconds(now - start);
  } else {
    const double per_token_ms = ToMilliseconds(now - **previous) / token_count;
    result->inter_token_ms.insert(result->inter_token_ms.end(), token_count,
                                  per_token_ms);
  }
  *previous = now;
}

void RunWorker(v1::TextGeneration::StubInterface& stub,
               const Workload& workload, int concurrency,
               RequestDispatcher* dispatcher, LevelCounters* counters,
               std::vector<RequestResult>* results) {
  while (const std::optional<int64_t> index = dispatcher->Next()) {
    v1::GenerateRequest request = workload.Request(*index);
    request.set_request_id(absl::StrCat("bench-c", concurrency, "-", *index));
    results->push_back(MeasureRequest(stub, request, counters));
  }
}

}  // namespace

std::string StatusCodeName(grpc::StatusCode code) {
  // gRPC and absl::StatusCode share their numbering, and gRPC 1.51 has no
  // public function that names a code.
  std::string name =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  if (name.empty()) name = absl::StrCat("STATUS_CODE_", static_cast<int>(code));
  return name;
}

RequestResult MeasureRequest(v1::TextGeneration::StubInterface& stub,
                             const v1::GenerateRequest& request,
                             LevelCounters* counters) {
  RequestResult result;
  grpc::ClientContext context;
  const Clock::time_point start = Clock::now();
  std::unique_ptr<grpc::ClientReaderInterface<v1::GenerateResponse>> reader =
      stub.Generate(&context, request);

  std::optional<Clock::time_point> previous_chunk;
  std::optional<v1::Completion> completion;
  v1::GenerateResponse response;
  while (reader->Read(&response)) {
    if (response.has_complete()) completion = response.complete();
    const int token_count = response.chunk().token_ids_size();
    if (token_count == 0) continue;
    RecordChunk(start, Clock::now(), token_count, &previous_chunk, &result);
    if (counters != nullptr) counters->streamed_tokens += token_count;
  }
  const grpc::Status status = reader->Finish();
  result.end_to_end_ms = ToMilliseconds(Clock::now() - start);

  if (!status.ok()) {
    result.status = StatusCodeName(status.error_code());
    result.error_message = status.error_message();
  } else if (!completion.has_value()) {
    result.status = kMissingCompletion;
    result.error_message = "the stream ended with OK but without a Completion";
  } else {
    result.generated_tokens = completion->generated_tokens();
  }
  if (counters != nullptr) {
    ++counters->completed;
    if (!result.ok()) ++counters->failed;
  }
  return result;
}

LevelRun RunLevel(v1::TextGeneration::StubInterface& stub,
                  const Workload& workload, const LevelPlan& plan,
                  LevelCounters* counters) {
  const Clock::time_point start = Clock::now();
  RequestDispatcher dispatcher(plan);
  std::vector<std::vector<RequestResult>> results_by_worker(plan.concurrency);
  std::vector<std::thread> workers;
  workers.reserve(plan.concurrency);
  for (int i = 0; i < plan.concurrency; ++i) {
    workers.emplace_back(RunWorker, std::ref(stub), std::cref(workload),
                         plan.concurrency, &dispatcher, counters,
                         &results_by_worker[i]);
  }
  for (std::thread& worker : workers) worker.join();

  LevelRun run;
  run.wall_seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  for (std::vector<RequestResult>& results : results_by_worker) {
    for (RequestResult& result : results) {
      run.requests.push_back(std::move(result));
    }
  }
  return run;
}

}  // namespace textgen::bench
