#ifndef TEXTGEN_SERVER_SERVING_GATE_H_
#define TEXTGEN_SERVER_SERVING_GATE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>

#include "server/generation_service.h"
#include "textgen/v1/textgen.grpc.pb.h"

namespace textgen {

// The TextGeneration service registered with gRPC at start, before the model is
// loaded. gRPC needs its services before the port opens, and the port opens
// first so that health checks report NOT_SERVING while the model loads.
// Until Open, every call gets UNAVAILABLE; after it, calls go to the
// GenerationService.
class ServingGate final : public v1::TextGeneration::Service {
 public:
  // `service` must outlive every call.
  void Open(GenerationService* service) { service_.store(service); }

  grpc::Status Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                        grpc::ServerWriter<v1::GenerateResponse>* writer) override;
  grpc::Status GetModelInfo(grpc::ServerContext* context, const v1::GetModelInfoRequest* request,
                            v1::ModelInfo* response) override;
  grpc::Status Tokenize(grpc::ServerContext* context, const v1::TokenizeRequest* request,
                        v1::TokenizeResponse* response) override;
  grpc::Status Detokenize(grpc::ServerContext* context, const v1::DetokenizeRequest* request,
                          v1::DetokenizeResponse* response) override;

 private:
  std::atomic<GenerationService*> service_{nullptr};
};

}  // namespace textgen

#endif  // TEXTGEN_SERVER_SERVING_GATE_H_
