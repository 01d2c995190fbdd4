#include "server/generation_service.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/util/logging.h"
#include "server/status_mapping.h"

namespace textgen {
namespace {

v1::FinishReason ToProto(FinishReason reason) {
  switch (reason) {
    case FinishReason::kEndOfSequence: return v1::FINISH_REASON_EOS;
    case FinishReason::kLength: return v1::FINISH_REASON_LENGTH;
    case FinishReason::kStopSequence: return v1::FINISH_REASON_STOP_SEQUENCE;
    case FinishReason::kCancelled: return v1::FINISH_REASON_CANCELLED;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

// Timings of one call, for its log line.
struct CallTimer {
  absl::Time start = absl::Now();
  absl::Time first_token = absl::InfinitePast();
  absl::Time end = absl::InfinitePast();
};

void LogFinished(const std::string& request_id, const GenerationResult& result,
                 const CallTimer& timer) {
  const double ttft_ms = timer.first_token == absl::InfinitePast()
                             ? -1.0
                             : absl::ToDoubleMilliseconds(timer.first_token - timer.start);
  const double decode_seconds = timer.first_token == absl::InfinitePast()
                                    ? 0.0
                                    : absl::ToDoubleSeconds(timer.end - timer.first_token);
  const double tokens_per_second =
      result.generated_tokens > 1 && decode_seconds > 0
          ? (result.generated_tokens - 1) / decode_seconds
          : 0.0;
  LogInfo(absl::StrFormat(
      "request finished: id=%s prompt_tokens=%d generated_tokens=%d ttft_ms=%.1f "
      "tokens_per_second=%.1f finish_reason=%s",
      request_id.empty() ? "-" : request_id, result.prompt_tokens, result.generated_tokens,
      ttft_ms, tokens_per_second, v1::FinishReason_Name(ToProto(result.finish_reason))));
}

}  // namespace

GenerationService::GenerationService(LoadedModel& model, const ServiceOptions& options)
    : model_(model),
      scheduler_(*model.model, *model.tokenizer, model.end_of_sequence_ids, options.scheduler) {
  validation_.tokenizer = model.tokenizer.get();
  validation_.model = &model.model->description();
  validation_.add_bos = model.add_bos;
  validation_.default_max_new_tokens = options.default_max_new_tokens;
}

grpc::Status GenerationService::Generate(grpc::ServerContext* context,
                                         const v1::GenerateRequest* request,
                                         grpc::ServerWriter<v1::GenerateResponse>* writer) {
  CallTimer timer;
  absl::StatusOr<GenerationRequest> engine_request = ValidateGenerateRequest(*request, validation_);
  if (!engine_request.ok()) return ToGrpcStatus(engine_request.status());

  absl::StatusOr<std::shared_ptr<RequestStream>> stream =
      scheduler_.Submit(*std::move(engine_request));
  if (!stream.ok()) return ToGrpcStatus(stream.status());

  // How often a call with nothing to send checks whether its client left.
  constexpr absl::Duration kCancelPollInterval = absl::Milliseconds(20);
  while (true) {
    RequestStream::Update update = (*stream)->Wait(absl::Now() + kCancelPollInterval);

    if (!update.chunk.empty()) {
      v1::GenerateResponse response;
      v1::TokenChunk* chunk = response.mutable_chunk();
      chunk->set_text(std::move(update.chunk.text));
      for (int32_t id : update.chunk.token_ids) chunk->add_token_ids(id);
      if (timer.first_token == absl::InfinitePast()) timer.first_token = absl::Now();
      if (!writer->Write(response)) (*stream)->Cancel();
    }

    if (update.result.has_value()) {
      timer.end = absl::Now();
      LogFinished(request->request_id(), *update.result, timer);
      return SendCompletion(*request, *update.result, context, writer);
    }

    if (context->IsCancelled()) (*stream)->Cancel();
  }
}

grpc::Status GenerationService::SendCompletion(const v1::GenerateRequest& request,
                                               const GenerationResult& result,
                                               grpc::ServerContext* context,
                                               grpc::ServerWriter<v1::GenerateResponse>* writer) {
  if (result.finish_reason == FinishReason::kCancelled && context->IsCancelled()) {
    // The client is gone or its deadline passed, so no client reads a Completion.
    ++cancelled_requests_;
    return grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled during generation");
  }

  v1::GenerateResponse response;
  v1::Completion* completion = response.mutable_complete();
  completion->set_finish_reason(ToProto(result.finish_reason));
  completion->set_prompt_tokens(result.prompt_tokens);
  completion->set_generated_tokens(result.generated_tokens);
  completion->set_seed(result.seed);
  completion->set_request_id(request.request_id());
  writer->Write(response);
  return grpc::Status::OK;
}

grpc::Status GenerationService::GetModelInfo(grpc::ServerContext* /*context*/,
                                             const v1::GetModelInfoRequest* /*request*/,
                                             v1::ModelInfo* response) {
  const ModelDescription& description = model_.model->description();
  response->set_name(description.name);
  response->set_architecture(description.architecture);
  response->set_context_length(static_cast<uint32_t>(description.context_length));
  response->set_vocab_size(static_cast<uint32_t>(description.vocab_size));
  response->set_parameter_count(description.parameter_count);
  response->set_weight_type(std::string(WeightTypeName(description.weight_type)));
  return grpc::Status::OK;
}

absl::StatusOr<RunningServer> StartGrpcServer(grpc::Service* service,
                                              const std::string& address) {
  RunningServer running;
  // The standard grpc.health.v1 service, implemented by gRPC itself, and server
  // reflection so that generic gRPC tools can list and call the services.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without this, gRPC sets SO_REUSEPORT and a second server on a busy port
  // starts "successfully" and shares the port's calls with the first.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &running.port);
  builder.RegisterService(service);
  running.server = builder.BuildAndStart();
  if (running.server == nullptr || running.port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address,
                     ": the address is invalid or the port is in use; pick another --listen"));
  }
  return running;
}

}  // namespace textgen
