// textgen-server: serves a text-generation model over gRPC.

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <google/protobuf/stubs/logging.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "engine/compute/dnnl_matmul.h"
#include "engine/model/model_loader.h"
#include "engine/util/logging.h"
#include "server/embedded_model.h"
#include "server/generation_service.h"
#include "server/metrics_endpoint.h"
#include "server/serving_gate.h"

ABSL_FLAG(std::string, model, "",
          "Model file: GGUF (llama or gpt2 architecture, F32/F16/BF16 tensors) or a llama2.c "
          "legacy checkpoint (.bin). Empty serves the embedded textgen-tiny-stories model.");
ABSL_FLAG(std::string, tokenizer, "",
          "llama2.c tokenizer file (tokenizer.bin); required with a llama2.c checkpoint.");
ABSL_FLAG(std::string, listen, "0.0.0.0:50051",
          "Address of the gRPC server, HOST:PORT; port 0 picks a free port and logs it.");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9464",
          "Address of the Prometheus metrics endpoint (GET /metrics), IPV4:PORT; port 0 picks a "
          "free port and logs it; empty turns the endpoint off.");
ABSL_FLAG(std::string, log_format, "text",
          "Format of the log lines on stderr: text, or json for one JSON object per line.");
ABSL_FLAG(int, threads, 0, "Compute threads for the engine; 0 uses every core.");
ABSL_FLAG(int, max_new_tokens_default, 256,
          "Tokens to generate for a request that sets stopping.max_new_tokens to 0.");
ABSL_FLAG(std::string, weight_type, "",
          "Type weights are kept in for matmuls: f32 or bf16. Empty keeps f32 files in f32 and "
          "packs f16 and bf16 files as bf16.");
ABSL_FLAG(int, max_running, 16, "Sequences generated together in one batch at most.");
ABSL_FLAG(int, max_waiting, 64,
          "Requests queued while the batch is full; beyond it Generate returns RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, kv_cache_mib, 512,
          "Memory reserved at start for the KV cache, in MiB; shared by all running sequences.");
ABSL_FLAG(int, prefill_chunk, 256,
          "Prompt tokens one engine step takes, over all sequences; a longer prompt is prefilled "
          "over several steps so that running streams keep going.");
ABSL_FLAG(double, drain_timeout, 20.0,
          "Seconds that running requests get to finish after SIGTERM or SIGINT; the rest then "
          "end with FINISH_REASON_CANCELLED.");
ABSL_FLAG(int, context_length, 0,
          "Replaces the context length the model file states; 0 keeps it. Llama models may go "
          "beyond it; GPT-2 models cannot exceed their learned positions.");

namespace textgen {
namespace {

absl::Status ValidateFlags() {
  const std::string log_format = absl::GetFlag(FLAGS_log_format);
  if (log_format != "text" && log_format != "json") {
    return absl::InvalidArgumentError(
        absl::StrFormat("--log-format is \"%s\", expected text or json", log_format));
  }
  if (absl::GetFlag(FLAGS_context_length) < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--context-length is %d, expected 0 (the file's) or more",
                        absl::GetFlag(FLAGS_context_length)));
  }
  if (absl::GetFlag(FLAGS_threads) < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--threads is %d, expected 0 (all cores) or more",
                        absl::GetFlag(FLAGS_threads)));
  }
  for (auto [name, value] : {std::pair{"--max-running", absl::GetFlag(FLAGS_max_running)},
                             std::pair{"--max-waiting", absl::GetFlag(FLAGS_max_waiting)},
                             std::pair{"--kv-cache-mib", absl::GetFlag(FLAGS_kv_cache_mib)},
                             std::pair{"--prefill-chunk", absl::GetFlag(FLAGS_prefill_chunk)}}) {
    if (value <= 0) {
      return absl::InvalidArgumentError(absl::StrFormat("%s is %d, expected 1 or more", name, value));
    }
  }
  if (const std::string metrics = absl::GetFlag(FLAGS_metrics_listen); !metrics.empty()) {
    if (absl::Status status = CheckMetricsAddress(metrics); !status.ok()) return status;
  }
  const double drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  if (!(drain_timeout >= 0.0 && drain_timeout <= 3600.0)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--drain-timeout is %g, expected 0 to 3600 seconds", drain_timeout));
  }
  if (absl::GetFlag(FLAGS_max_new_tokens_default) <= 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--max-new-tokens-default is %d, expected 1 or more",
                        absl::GetFlag(FLAGS_max_new_tokens_default)));
  }
  return absl::OkStatus();
}

void LogStartupSummary(const LoadedModel& loaded) {
  const ModelDescription& d = loaded.model->description();
  LogInfo("model loaded", {{"version", TEXTGEN_VERSION},
                           {"name", d.name},
                           {"architecture", d.architecture},
                           {"parameters", static_cast<int64_t>(d.parameter_count)},
                           {"weight_type", std::string(WeightTypeName(d.weight_type))},
                           {"context_length", static_cast<int64_t>(d.context_length)},
                           {"vocab_size", static_cast<int64_t>(d.vocab_size)},
                           {"threads", ComputeThreads()},
                           {"isa", DnnlMatmul::CpuIsaName()}});
}

// Sends protobuf's own log lines, such as its report of a request with
// invalid UTF-8 in a string field, through the server's log in its format.
void LogFromProtobuf(google::protobuf::LogLevel level, const char* filename, int line,
                     const std::string& message) {
  const LogSeverity severity = level == google::protobuf::LOGLEVEL_INFO  ? LogSeverity::kInfo
                               : level == google::protobuf::LOGLEVEL_WARNING ? LogSeverity::kWarning
                                                                             : LogSeverity::kError;
  Log(severity, "protobuf", {{"message", message}, {"file", filename}, {"line", line}});
}

// Runs one token through the model so that oneDNN builds its primitives
// before the first request.
void WarmUp(LoadedModel& loaded) {
  std::unique_ptr<KvCache> cache = loaded.model->NewKvCache(1);
  std::vector<float> logits(loaded.model->description().vocab_size);
  const int32_t token[1] = {loaded.tokenizer->bos_id()};
  loaded.model->Forward({SequenceStep{token, 0, cache.get(), logits.data()}});
}

// Blocks until SIGINT or SIGTERM arrives. The signals are blocked in every
// thread, so sigwait is the only place they are delivered.
int WaitForShutdownSignal(const sigset_t& signals) {
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  return signal_number;
}

// Stops accepting calls (health NOT_SERVING, new calls UNAVAILABLE), lets
// running and queued requests finish for up to `drain_time`, then ends the
// rest with a CANCELLED Completion.
void Drain(RunningServer& running, GenerationService& service, absl::Duration drain_time) {
  running.server->GetHealthCheckService()->SetServingStatus(false);

  // Shutdown returns once every call has ended. Its own deadline only
  // matters for a handler stuck writing to a client that does not read.
  const auto hard_deadline = std::chrono::system_clock::now() +
                             absl::ToChronoSeconds(drain_time) + std::chrono::seconds(5);
  std::thread shutdown([&running, hard_deadline] { running.server->Shutdown(hard_deadline); });

  const Scheduler& scheduler = service.scheduler();
  const absl::Time deadline = absl::Now() + drain_time;
  while (scheduler.running() + scheduler.waiting() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const int64_t unfinished = scheduler.running() + scheduler.waiting();
  if (unfinished > 0) {
    LogWarning("drain time is over, cancelling the unfinished requests",
               {{"unfinished", unfinished}});
    service.CancelAllRequests();
  }
  shutdown.join();
}

int Run() {
  absl::Status status = ValidateFlags();
  if (!status.ok()) {
    LogError(status.message());
    return 2;
  }
  if (absl::GetFlag(FLAGS_log_format) == "json") SetLogFormat(LogFormat::kJson);
  google::protobuf::SetLogHandler(&LogFromProtobuf);
  if (absl::GetFlag(FLAGS_threads) > 0) SetComputeThreads(absl::GetFlag(FLAGS_threads));

  ModelFiles files;
  files.model_path = absl::GetFlag(FLAGS_model);
  files.tokenizer_path = absl::GetFlag(FLAGS_tokenizer);
  files.context_length = absl::GetFlag(FLAGS_context_length);
  if (files.model_path.empty()) {
    files.model_path = kEmbeddedModelName;
    files.model_bytes = EmbeddedModelBytes();
  }
  if (!absl::GetFlag(FLAGS_weight_type).empty()) {
    absl::StatusOr<WeightType> weight_type = ParseWeightType(absl::GetFlag(FLAGS_weight_type));
    if (!weight_type.ok()) {
      LogError(absl::StrCat("--weight-type: ", weight_type.status().message()));
      return 2;
    }
    files.weight_type = *weight_type;
  }

  // Metrics and the gRPC port come up before the model loads, so a busy
  // port is reported at once, and health checks report NOT_SERVING and
  // scrapes see the process while a large model loads.
  ServerMetrics metrics;
  std::unique_ptr<MetricsEndpoint> metrics_endpoint;
  if (!absl::GetFlag(FLAGS_metrics_listen).empty()) {
    absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
        MetricsEndpoint::Start(absl::GetFlag(FLAGS_metrics_listen), metrics);
    if (!endpoint.ok()) {
      LogError(endpoint.status().message());
      return 1;
    }
    metrics_endpoint = *std::move(endpoint);
    LogInfo("metrics endpoint open", {{"address", absl::GetFlag(FLAGS_metrics_listen)},
                                      {"port", metrics_endpoint->port()}});
  }

  ServingGate gate;
  absl::StatusOr<RunningServer> running = StartGrpcServer(&gate, absl::GetFlag(FLAGS_listen));
  if (!running.ok()) {
    LogError(running.status().message());
    return 1;
  }
  grpc::HealthCheckServiceInterface* health = running->server->GetHealthCheckService();
  health->SetServingStatus(false);
  LogInfo("gRPC port open, NOT_SERVING while the model loads",
          {{"address", absl::GetFlag(FLAGS_listen)}, {"port", running->port}});

  absl::Time load_start = absl::Now();
  absl::StatusOr<LoadedModel> loaded = LoadModel(files);
  if (!loaded.ok()) {
    LogError(absl::StrCat("cannot load the model: ", loaded.status().message()));
    // No call can be running, so there is nothing to wait for.
    running->server->Shutdown(std::chrono::system_clock::now());
    return 1;
  }
  WarmUp(*loaded);
  LogStartupSummary(*loaded);
  LogInfo("model ready", {{"seconds", absl::ToDoubleSeconds(absl::Now() - load_start)}});

  ServiceOptions options;
  options.default_max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens_default);
  options.scheduler.max_running = absl::GetFlag(FLAGS_max_running);
  options.scheduler.max_waiting = absl::GetFlag(FLAGS_max_waiting);
  options.scheduler.kv_cache_bytes = int64_t{absl::GetFlag(FLAGS_kv_cache_mib)} << 20;
  options.scheduler.prefill_chunk = absl::GetFlag(FLAGS_prefill_chunk);
  options.metrics = &metrics;
  GenerationService service(*loaded, options);
  LogInfo("scheduler", {{"max_running", options.scheduler.max_running},
                        {"max_waiting", options.scheduler.max_waiting},
                        {"prefill_chunk", options.scheduler.prefill_chunk},
                        {"kv_cache_blocks", service.scheduler().kv_blocks_total()},
                        {"kv_block_positions", options.scheduler.kv_block_size},
                        {"kv_cache_mib", absl::GetFlag(FLAGS_kv_cache_mib)}});

  gate.Open(&service);
  health->SetServingStatus(true);
  LogInfo("serving", {{"address", absl::GetFlag(FLAGS_listen)}, {"port", running->port}});

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  int signal_number = WaitForShutdownSignal(signals);
  LogInfo("draining", {{"signal", strsignal(signal_number)},
                       {"drain_timeout_seconds", absl::GetFlag(FLAGS_drain_timeout)}});
  Drain(*running, service, absl::Seconds(absl::GetFlag(FLAGS_drain_timeout)));
  LogInfo("stopped");
  return 0;
}

}  // namespace
}  // namespace textgen

int main(int argc, char** argv) {
  // Block the shutdown signals before gRPC starts its threads, so they all
  // inherit the mask and only sigwait receives the signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::SetProgramUsageMessage(
      "Serves a text-generation model over gRPC.\n"
      "Usage: textgen-server [--model PATH] [--tokenizer PATH] [--listen HOST:PORT]\n"
      "Flags may be written with dashes or underscores (--kv-cache-mib, --kv_cache_mib).");
  // --help lists the flags of this file, which absl would skip because the
  // file name differs from the program name.
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "server/main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.version_string = [] { return std::string("textgen-server " TEXTGEN_VERSION "\n"); };
  absl::SetFlagsUsageConfig(usage);
  std::vector<std::string> arguments = textgen::NormalizeFlagNames(argc, argv);
  std::vector<char*> pointers = textgen::ArgvPointers(arguments);
  absl::ParseCommandLine(static_cast<int>(arguments.size()), pointers.data());
  return textgen::Run();
}
