#ifndef TEXTGEN_SERVER_GENERATION_SERVICE_H_
#define TEXTGEN_SERVER_GENERATION_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "engine/model/model_loader.h"
#include "engine/schedule/scheduler.h"
#include "server/metrics.h"
#include "server/request_validation.h"
#include "textgen/v1/textgen.grpc.pb.h"

namespace textgen {

struct ServiceOptions {
  int32_t default_max_new_tokens = 256;
  SchedulerOptions scheduler;
  // Metrics the service records into, not owned, so that they can be served
  // before the model is loaded; null makes the service keep its own.
  ServerMetrics* metrics = nullptr;
};

// The TextGeneration service. Each Generate call submits its request to the
// scheduler, which batches it with the others. The call sends the request's
// output to the client as it arrives, coalesced when the client reads slowly.
class GenerationService final : public v1::TextGeneration::Service {
 public:
  // `model` must outlive the service.
  GenerationService(LoadedModel& model, const ServiceOptions& options);
  // Stops the metrics from reading the scheduler, which goes with the service.
  ~GenerationService() override;

  grpc::Status Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                        grpc::ServerWriter<v1::GenerateResponse>* writer) override;

  grpc::Status GetModelInfo(grpc::ServerContext* context, const v1::GetModelInfoRequest* request,
                            v1::ModelInfo* response) override;

  grpc::Status Tokenize(grpc::ServerContext* context, const v1::TokenizeRequest* request,
                        v1::TokenizeResponse* response) override;

  grpc::Status Detokenize(grpc::ServerContext* context, const v1::DetokenizeRequest* request,
                          v1::DetokenizeResponse* response) override;

  const Scheduler& scheduler() const { return scheduler_; }
  const ServerMetrics& metrics() const { return metrics_; }

  // Ends every queued and running request with FINISH_REASON_CANCELLED; their
  // clients still receive a Completion.
  void CancelAllRequests() { scheduler_.CancelAll(); }

  // The number of calls that ended because the client cancelled or its
  // deadline passed.
  int64_t cancelled_requests() const { return cancelled_requests_.load(); }

 private:
  // Generate without the count of errors.
  grpc::Status GenerateStream(grpc::ServerContext* context, const v1::GenerateRequest* request,
                              grpc::ServerWriter<v1::GenerateResponse>* writer,
                              absl::Time call_start);

  // Sends the final Completion, or ends a call whose client is gone.
  grpc::Status SendCompletion(const v1::GenerateRequest& request, const GenerationResult& result,
                              grpc::ServerContext* context,
                              grpc::ServerWriter<v1::GenerateResponse>* writer,
                              absl::Time call_start);

  LoadedModel& model_;
  ValidationContext validation_;
  std::unique_ptr<ServerMetrics> own_metrics_;  // when options.metrics is null
  ServerMetrics& metrics_;  // before the scheduler, whose observers use it
  Scheduler scheduler_;
  std::atomic<int64_t> cancelled_requests_{0};
};

// A running gRPC server and the port it listens on.
struct RunningServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// Starts a gRPC server with `service` on `address` (HOST:PORT; port 0 picks a
// free one).
absl::StatusOr<RunningServer> StartGrpcServer(grpc::Service* service, const std::string& address);

}  // namespace textgen

#endif  // TEXTGEN_SERVER_GENERATION_SERVICE_H_
