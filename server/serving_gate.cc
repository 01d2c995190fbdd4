#include "server/serving_gate.h"

namespace textgen {
namespace {

grpc::Status Loading() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      "the model is still loading; retry once health reports SERVING");
}

}  // namespace

grpc::Status ServingGate::Generate(grpc::ServerContext* context,
                                   const v1::GenerateRequest* request,
                                   grpc::ServerWriter<v1::GenerateResponse>* writer) {
  GenerationService* service = service_.load();
  return service == nullptr ? Loading() : service->Generate(context, request, writer);
}

grpc::Status ServingGate::GetModelInfo(grpc::ServerContext* context,
                                       const v1::GetModelInfoRequest* request,
                                       v1::ModelInfo* response) {
  GenerationService* service = service_.load();
  return service == nullptr ? Loading() : service->GetModelInfo(context, request, response);
}

grpc::Status ServingGate::Tokenize(grpc::ServerContext* context,
                                   const v1::TokenizeRequest* request,
                                   v1::TokenizeResponse* response) {
  GenerationService* service = service_.load();
  return service == nullptr ? Loading() : service->Tokenize(context, request, response);
}

grpc::Status ServingGate::Detokenize(grpc::ServerContext* context,
                                     const v1::DetokenizeRequest* request,
                                     v1::DetokenizeResponse* response) {
  GenerationService* service = service_.load();
  return service == nullptr ? Loading() : service->Detokenize(context, request, response);
}

}  // namespace textgen
