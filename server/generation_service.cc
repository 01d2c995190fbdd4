#include "server/generation_service.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/util/logging.h"
#include "grpc/health/v1/health.pb.h"
#include "server/status_mapping.h"
#include "server/tokenization.h"

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

void AddLogprobs(const std::vector<TokenLogprob>& logprobs, v1::TokenChunk* chunk) {
  for (const TokenLogprob& logprob : logprobs) {
    v1::TokenLogprob* entry = chunk->add_logprobs();
    entry->set_token_id(logprob.token_id);
    entry->set_logprob(logprob.logprob);
    for (const TopLogprob& alternative : logprob.top) {
      v1::TopLogprob* top = entry->add_top();
      top->set_token_id(alternative.token_id);
      top->set_logprob(alternative.logprob);
      top->set_piece(alternative.piece);
    }
  }
}

// Timings of one call, for its log line.
struct CallTimer {
  absl::Time start;
  absl::Time first_token = absl::InfinitePast();
  absl::Time end = absl::InfinitePast();
};

ServerInfo InfoOf(const LoadedModel& model) {
  const ModelDescription& description = model.model->description();
  return ServerInfo{TEXTGEN_VERSION, description.name, description.architecture,
                    std::string(WeightTypeName(description.weight_type))};
}

// `options` with its observers feeding `metrics` too.
SchedulerOptions Observed(SchedulerOptions options, ServerMetrics& metrics) {
  metrics.ObserveScheduler(options);
  return options;
}

void LogFinished(const std::string& request_id, const GenerationResult& result,
                 const CallTimer& timer) {
  // NaN, logged as null, when the call produced no token.
  const double ttft_ms = timer.first_token == absl::InfinitePast()
                             ? std::nan("")
                             : absl::ToDoubleMilliseconds(timer.first_token - timer.start);
  const double decode_seconds = timer.first_token == absl::InfinitePast()
                                    ? 0.0
                                    : absl::ToDoubleSeconds(timer.end - timer.first_token);
  const double tokens_per_second =
      result.generated_tokens > 1 && decode_seconds > 0
          ? (result.generated_tokens - 1) / decode_seconds
          : 0.0;
  LogInfo("request finished",
          {{"id", request_id.empty() ? std::string("-") : request_id},
           {"prompt_tokens", result.prompt_tokens},
           {"generated_tokens", result.generated_tokens},
           {"ttft_ms", ttft_ms},
           {"tokens_per_second", tokens_per_second},
           {"finish_reason", v1::FinishReason_Name(ToProto(result.finish_reason))}});
}

}  // namespace

GenerationService::GenerationService(LoadedModel& model, const ServiceOptions& options)
    : model_(model),
      own_metrics_(options.metrics == nullptr ? std::make_unique<ServerMetrics>() : nullptr),
      metrics_(options.metrics == nullptr ? *own_metrics_ : *options.metrics),
      scheduler_(*model.model, *model.tokenizer, model.end_of_sequence_ids,
                 Observed(options.scheduler, metrics_)) {
  metrics_.SetInfo(InfoOf(model));
  metrics_.WatchScheduler(&scheduler_);
  validation_.tokenizer = model.tokenizer.get();
  validation_.model = &model.model->description();
  validation_.add_bos = model.add_bos;
  validation_.default_max_new_tokens = options.default_max_new_tokens;
}

GenerationService::~GenerationService() { metrics_.WatchScheduler(nullptr); }

grpc::Status GenerationService::Generate(grpc::ServerContext* context,
                                         const v1::GenerateRequest* request,
                                         grpc::ServerWriter<v1::GenerateResponse>* writer) {
  grpc::Status status = GenerateStream(context, request, writer, absl::Now());
  if (!status.ok()) metrics_.RecordError(status.error_code());
  return status;
}

grpc::Status GenerationService::GenerateStream(grpc::ServerContext* context,
                                               const v1::GenerateRequest* request,
                                               grpc::ServerWriter<v1::GenerateResponse>* writer,
                                               absl::Time call_start) {
  CallTimer timer;
  timer.start = call_start;
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
      AddLogprobs(update.chunk.logprobs, chunk);
      const int tokens = chunk->token_ids_size();
      if (timer.first_token == absl::InfinitePast() && tokens > 0) {
        timer.first_token = absl::Now();
        metrics_.RecordTimeToFirstToken(timer.first_token - timer.start);
      }
      if (writer->Write(response)) {
        metrics_.RecordGeneratedTokens(tokens);
      } else {
        (*stream)->Cancel();
      }
    }

    if (update.result.has_value()) {
      timer.end = absl::Now();
      LogFinished(request->request_id(), *update.result, timer);
      return SendCompletion(*request, *update.result, context, writer, timer.start);
    }

    if (context->IsCancelled()) (*stream)->Cancel();
  }
}

grpc::Status GenerationService::SendCompletion(const v1::GenerateRequest& request,
                                               const GenerationResult& result,
                                               grpc::ServerContext* context,
                                               grpc::ServerWriter<v1::GenerateResponse>* writer,
                                               absl::Time call_start) {
  metrics_.RecordPromptTokens(result.prompt_tokens);
  if (result.finish_reason == FinishReason::kCancelled && context->IsCancelled()) {
    // The client is gone or its deadline passed, so no client reads a Completion.
    ++cancelled_requests_;
    if (context->deadline() <= std::chrono::system_clock::now()) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          "the deadline passed during generation");
    }
    return grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled during generation");
  }

  v1::GenerateResponse response;
  v1::Completion* completion = response.mutable_complete();
  completion->set_finish_reason(ToProto(result.finish_reason));
  completion->set_prompt_tokens(result.prompt_tokens);
  completion->set_generated_tokens(result.generated_tokens);
  completion->set_seed(result.seed);
  completion->set_request_id(request.request_id());
  completion->set_matched_stop(result.matched_stop);
  if (result.matched_stop_token_id.has_value()) {
    completion->set_matched_stop_token_id(*result.matched_stop_token_id);
  }
  writer->Write(response);
  metrics_.RecordCompletion(result, absl::Now() - call_start);
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

grpc::Status GenerationService::Tokenize(grpc::ServerContext* /*context*/,
                                         const v1::TokenizeRequest* request,
                                         v1::TokenizeResponse* response) {
  absl::StatusOr<v1::TokenizeResponse> result =
      textgen::Tokenize(*request, *model_.tokenizer, model_.add_bos);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status GenerationService::Detokenize(grpc::ServerContext* /*context*/,
                                           const v1::DetokenizeRequest* request,
                                           v1::DetokenizeResponse* response) {
  absl::StatusOr<v1::DetokenizeResponse> result = textgen::Detokenize(*request, *model_.tokenizer);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

absl::StatusOr<RunningServer> StartGrpcServer(grpc::Service* service,
                                              const std::string& address) {
  RunningServer running;
  // The standard grpc.health.v1 service, implemented by gRPC itself, and server
  // reflection so that generic gRPC tools can list and call the services.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // gRPC's health service does not use the generated health messages, so
  // without this reference the linker drops them and reflection cannot
  // describe grpc.health.v1.Health.
  grpc::health::v1::HealthCheckRequest::descriptor();
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
