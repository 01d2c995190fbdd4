// The Prometheus metrics of a real textgen-server: scraped over HTTP, checked
// by promtool, scraped by a real Prometheus server, and the JSON log format.
// The expected counts follow from the traffic each test sends.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/model/model_loader.h"
#include "nlohmann/json.hpp"
#include "server/generation_service.h"
#include "server/metrics_endpoint.h"
#include "tests/engine_gate.h"
#include "tests/http_get.h"
#include "tests/process.h"
#include "tests/server/generate_call.h"
#include "tests/test_paths.h"
#include "textgen/v1/textgen.grpc.pb.h"

namespace textgen {
namespace {

using ::testing::HasSubstr;
using testing::HttpGet;
using testing::Process;

const std::string kModel = testing::SharedPath("models/stories260K/stories260K.bin");
const std::string kTokenizer = testing::SharedPath("models/stories260K/tok512.bin");

// The traffic of the tests: kCalls calls of a kPromptTokens-token prompt, each
// generating exactly kNewTokens tokens (EOS ignored).
constexpr int kCalls = 3;
constexpr int kPromptTokens = 5;
constexpr int kNewTokens = 12;

v1::GenerateRequest FixedRequest(const std::string& request_id) {
  v1::GenerateRequest request;
  for (int32_t id : {1, 403, 261, 263, 400}) request.add_prompt_token_ids(id);
  request.mutable_stopping()->set_max_new_tokens(kNewTokens);
  request.mutable_stopping()->set_ignore_eos(true);
  request.set_request_id(request_id);
  return request;
}

v1::GenerateRequest InvalidRequest() {
  v1::GenerateRequest request = FixedRequest("bad");
  request.mutable_sampling()->set_temperature(-1.0f);
  return request;
}

// Sends the fixed traffic: kCalls good calls and one invalid one.
void SendTraffic(const std::string& address) {
  auto stub = v1::TextGeneration::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  for (int i = 0; i < kCalls; ++i) {
    StreamResult result = CallGenerate(*stub, FixedRequest("call-" + std::to_string(i)));
    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    ASSERT_EQ(result.TokenIds().size(), static_cast<size_t>(kNewTokens));
  }
  StreamResult invalid = CallGenerate(*stub, InvalidRequest());
  ASSERT_EQ(invalid.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// The value of `series` (a metric name and its labels, exactly as exported)
// in a text-format scrape; nullopt when absent.
std::optional<double> SeriesValue(const std::string& scrape, const std::string& series) {
  std::istringstream lines(scrape);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.compare(0, series.size() + 1, series + " ") == 0) {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

// Runs promtool's linter on a scrape; returns its exit code.
int PromtoolCheck(const std::string& scrape) {
  const std::string path = ::testing::TempDir() + "textgen-scrape.txt";
  std::ofstream(path) << scrape;
  const std::string command = std::string(TEXTGEN_PROMTOOL) + " check metrics < " + path;
  const int status = std::system(command.c_str());
  std::filesystem::remove(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A textgen-server executable on loopback with free gRPC and metrics ports.
struct ServerProcess {
  explicit ServerProcess(std::vector<std::string> extra_flags = {}) {
    std::vector<std::string> arguments = {testing::BinaryDir() + "/server/textgen-server",
                                          "--model",          kModel,
                                          "--tokenizer",      kTokenizer,
                                          "--listen",         "127.0.0.1:0",
                                          "--metrics-listen", "127.0.0.1:0"};
    arguments.insert(arguments.end(), extra_flags.begin(), extra_flags.end());
    process = std::make_unique<Process>(arguments);
    // The metrics endpoint starts first, then gRPC. The patterns match the
    // text and the JSON log formats.
    const std::string metrics =
        process->WaitForStderrLine(testing::MetricsEndpointLine());
    const std::string grpc = process->WaitForStderrLine(testing::ServingLine());
    EXPECT_FALSE(metrics.empty() || grpc.empty()) << "textgen-server did not report its ports";
    metrics_port = metrics.empty() ? 0 : std::stoi(metrics);
    address = "127.0.0.1:" + grpc;
  }

  std::unique_ptr<Process> process;
  int metrics_port = 0;
  std::string address;
};

TEST(MetricsTest, ScrapeCountsTheTrafficAndPassesPromtool) {
  ServerProcess server;
  SendTraffic(server.address);

  testing::HttpResponse scrape = HttpGet(server.metrics_port, "/metrics");
  ASSERT_EQ(scrape.status, 200);
  const std::string& text = scrape.body;
  EXPECT_EQ(PromtoolCheck(text), 0) << text;

  auto value = [&text](const std::string& series) {
    return SeriesValue(text, series).value_or(-1.0);
  };
  EXPECT_EQ(value("textgen_time_to_first_token_seconds_count"), kCalls);
  EXPECT_EQ(value("textgen_request_duration_seconds_count"), kCalls);
  EXPECT_EQ(value("textgen_queue_time_seconds_count"), kCalls);
  // Every token after a call's first has an interval.
  EXPECT_EQ(value("textgen_inter_token_latency_seconds_count"), kCalls * (kNewTokens - 1));
  EXPECT_EQ(value("textgen_generated_tokens_total"), kCalls * kNewTokens);
  EXPECT_EQ(value("textgen_prompt_tokens_total"), kCalls * kPromptTokens);
  EXPECT_EQ(value(R"(textgen_requests_total{finish_reason="length"})"), kCalls);
  EXPECT_EQ(value(R"(textgen_requests_total{finish_reason="eos"})"), 0);
  EXPECT_EQ(value(R"(textgen_request_errors_total{code="INVALID_ARGUMENT"})"), 1);
  // Each call runs its prompt through the model once and every generated
  // token but the last, which ends the call before it is fed back.
  EXPECT_EQ(value("textgen_step_tokens_sum"), kCalls * (kPromptTokens + kNewTokens - 1));
  EXPECT_EQ(value("textgen_running_requests"), 0);
  EXPECT_EQ(value("textgen_waiting_requests"), 0);
  EXPECT_EQ(value("textgen_kv_cache_usage_ratio"), 0);
  EXPECT_GT(value("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(value("process_cpu_seconds_total"), 0);
  EXPECT_NEAR(value("process_start_time_seconds"), absl::ToUnixSeconds(absl::Now()), 120);
  EXPECT_EQ(value(R"(textgen_info{architecture="llama",model="stories260K",version=")" +
                  std::string(TEXTGEN_VERSION) + R"(",weight_type="f32"})"),
            1)
      << text;
}

TEST(MetricsTest, UnknownPathIsNotFound) {
  ServerProcess server;
  EXPECT_EQ(HttpGet(server.metrics_port, "/").status, 404);
}

TEST(MetricsTest, AddressesOtherThanIpv4AndPortAreRejected) {
  const ServerMetrics metrics;
  // The HTTP server would bind 0.0.0.0 for 256.0.0.0 and has no IPv6.
  for (const char* address : {"256.0.0.0:0", "127.0.0.1:70000", "[::1]:0", "localhost:0", "abc",
                              "127.0.0.1", ":0", "127.0.0.1:0,127.0.0.1:0"}) {
    SCOPED_TRACE(address);
    absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
        MetricsEndpoint::Start(address, metrics);
    ASSERT_FALSE(endpoint.ok());
    EXPECT_EQ(endpoint.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(endpoint.status().message(), HasSubstr("--metrics-listen"));
  }
}

TEST(MetricsTest, IdleConnectionsDoNotBlockScrapes) {
  const ServerMetrics metrics;
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
      MetricsEndpoint::Start("127.0.0.1:0", metrics);
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();

  // Five connections that never send a request, more than the endpoint's
  // threads: each occupies a thread until its read times out, and a scrape must
  // still be answered within Prometheus's default scrape timeout of 10 s.
  std::vector<int> idle;
  for (int i = 0; i < 5; ++i) idle.push_back(testing::ConnectLoopback((*endpoint)->port()));
  const testing::HttpResponse scrape =
      HttpGet((*endpoint)->port(), "/metrics", /*timeout_seconds=*/10);
  for (int fd : idle) close(fd);

  EXPECT_EQ(scrape.status, 200);
  EXPECT_THAT(scrape.body, HasSubstr("textgen_generated_tokens_total"));
}

TEST(MetricsTest, BusyMetricsPortStopsTheServer) {
  ServerProcess first;
  Process second({testing::BinaryDir() + "/server/textgen-server", "--model", kModel,
                  "--tokenizer", kTokenizer, "--listen", "127.0.0.1:0", "--metrics-listen",
                  "127.0.0.1:" + std::to_string(first.metrics_port)});
  const std::string error = second.WaitForStderrLine(std::regex(R"((cannot serve metrics.*))"));
  EXPECT_THAT(error, HasSubstr("--metrics-listen"));
  EXPECT_EQ(second.Wait(), 1);
}

// Runs `query` through Prometheus's instant query API and returns the value
// of the first series, or nullopt while there is none.
std::optional<double> PrometheusQuery(int port, const std::string& query) {
  testing::HttpResponse response = HttpGet(port, "/api/v1/query?query=" + query);
  if (response.status != 200) return std::nullopt;
  nlohmann::json answer = nlohmann::json::parse(response.body, nullptr, false);
  if (answer.is_discarded() || answer["status"] != "success") return std::nullopt;
  const nlohmann::json& result = answer["data"]["result"];
  if (!result.is_array() || result.empty()) return std::nullopt;
  return std::stod(result[0]["value"][1].get<std::string>());
}

// Polls `query` until it returns `expected`, for up to a minute, and returns
// the last value.
std::optional<double> WaitForPrometheusValue(int port, const std::string& query,
                                             double expected) {
  std::optional<double> value;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    value = PrometheusQuery(port, query);
    if (value == expected) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  return value;
}

TEST(MetricsTest, PrometheusServerScrapesTheTraffic) {
  ServerProcess server;

  char folder_template[] = "/tmp/textgen-prometheus-XXXXXX";
  ASSERT_NE(mkdtemp(folder_template), nullptr);
  const std::filesystem::path folder = folder_template;
  std::ofstream(folder / "prometheus.yml")
      << "global:\n"
         "  scrape_interval: 1s\n"
         "scrape_configs:\n"
         "  - job_name: textgen\n"
         "    static_configs:\n"
         "      - targets: ['127.0.0.1:"
      << server.metrics_port << "']\n";
  const int prometheus_port = testing::FreeLoopbackPort();
  ASSERT_NE(prometheus_port, 0);
  Process prometheus({TEXTGEN_PROMETHEUS, "--config.file=" + (folder / "prometheus.yml").string(),
                      "--storage.tsdb.path=" + (folder / "data").string(),
                      "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port),
                      "--log.level=warn"});

  SendTraffic(server.address);

  EXPECT_EQ(WaitForPrometheusValue(prometheus_port, "textgen_generated_tokens_total",
                                   kCalls * kNewTokens),
            kCalls * kNewTokens);
  EXPECT_EQ(WaitForPrometheusValue(prometheus_port, "textgen_time_to_first_token_seconds_count",
                                   kCalls),
            kCalls);
  EXPECT_EQ(WaitForPrometheusValue(prometheus_port, "up", 1), 1);

  prometheus.Signal(SIGTERM);
  prometheus.Wait();
  std::filesystem::remove_all(folder);
}

TEST(MetricsTest, GaugesShowARunningRequest) {
  testing::EngineGate gate;
  ModelFiles files;
  files.model_path = kModel;
  files.tokenizer_path = kTokenizer;
  absl::StatusOr<LoadedModel> loaded = LoadModel(files);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ServiceOptions options;
  options.scheduler.step_observer = gate.Observer();
  GenerationService service(*loaded, options);
  absl::StatusOr<RunningServer> running = StartGrpcServer(&service, "127.0.0.1:0");
  ASSERT_TRUE(running.ok()) << running.status();
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
      MetricsEndpoint::Start("127.0.0.1:0", service.metrics());
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();

  // Hold the engine after the request's first step.
  gate.Close();
  std::thread call([&running] {
    auto stub = v1::TextGeneration::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(running->port), grpc::InsecureChannelCredentials()));
    CallGenerate(*stub, FixedRequest("held"));
  });
  ASSERT_TRUE(gate.WaitForStep());

  const std::string during = HttpGet((*endpoint)->port(), "/metrics").body;
  gate.Open();
  call.join();
  const std::string after = HttpGet((*endpoint)->port(), "/metrics").body;

  EXPECT_EQ(SeriesValue(during, "textgen_running_requests"), 1);
  EXPECT_EQ(SeriesValue(during, "textgen_waiting_requests"), 0);
  // The prompt holds one block of 16 positions out of the cache's blocks.
  const double blocks = static_cast<double>(service.scheduler().kv_blocks_total());
  EXPECT_DOUBLE_EQ(SeriesValue(during, "textgen_kv_cache_usage_ratio").value_or(-1), 1 / blocks);
  EXPECT_EQ(SeriesValue(after, "textgen_running_requests"), 0);
  EXPECT_EQ(SeriesValue(after, "textgen_kv_cache_usage_ratio"), 0);
  running->server->Shutdown();
}

TEST(LogFormatTest, JsonLinesCarryTheRequestFields) {
  ServerProcess server({"--log-format", "json"});
  {
    // The channel closes before the signal, so the drain has no idle
    // connection to wait for.
    auto stub = v1::TextGeneration::NewStub(
        grpc::CreateChannel(server.address, grpc::InsecureChannelCredentials()));
    ASSERT_TRUE(CallGenerate(*stub, FixedRequest("json-日本")).status.ok());
  }
  server.process->Signal(SIGTERM);
  EXPECT_EQ(server.process->Wait(), 0);

  std::istringstream lines(server.process->ReadAllStderr());
  std::string line;
  std::optional<nlohmann::json> finished;
  while (std::getline(lines, line)) {
    nlohmann::json entry = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(entry.is_object()) << "not a JSON object: " << line;
    EXPECT_TRUE(entry["time"].is_string()) << line;
    EXPECT_TRUE(entry["severity"].is_string()) << line;
    EXPECT_TRUE(entry["message"].is_string()) << line;
    if (entry["message"] == "request finished") finished = entry;
  }
  ASSERT_TRUE(finished.has_value());
  EXPECT_EQ((*finished)["id"], "json-日本");
  EXPECT_EQ((*finished)["prompt_tokens"], kPromptTokens);
  EXPECT_EQ((*finished)["generated_tokens"], kNewTokens);
  EXPECT_EQ((*finished)["finish_reason"], "FINISH_REASON_LENGTH");
  EXPECT_TRUE((*finished)["ttft_ms"].is_number());
  EXPECT_TRUE((*finished)["tokens_per_second"].is_number());
}

TEST(LogFormatTest, UnknownFormatIsRejected) {
  Process server({testing::BinaryDir() + "/server/textgen-server", "--log-format", "xml",
                  "--metrics-listen", ""});
  EXPECT_THAT(server.WaitForStderrLine(std::regex(R"((--log-format.*))")),
              HasSubstr("expected text or json"));
  EXPECT_EQ(server.Wait(), 2);
}

}  // namespace
}  // namespace textgen
