#include "server/metrics_endpoint.h"

#include <arpa/inet.h>
#include <prometheus/exposer.h>

#include <exception>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace textgen {
namespace {

// Threads that serve scrapes. A connection occupies one until its request has
// arrived or a read waits longer than the timeout, so a few idle
// connections cannot stall Prometheus for long.
constexpr int kThreads = 4;
constexpr char kRequestTimeoutMilliseconds[] = "5000";

}  // namespace

// The HTTP server would read other forms in ways of its own (an octet above
// 255 wraps around), and it is built without IPv6.
absl::Status CheckMetricsAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  const std::string host(address.substr(0, colon == absl::string_view::npos ? 0 : colon));
  in_addr parsed;
  int port = -1;
  if (colon == absl::string_view::npos || inet_pton(AF_INET, host.c_str(), &parsed) != 1 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics-listen is \"", address,
        "\", expected IPV4:PORT such as 0.0.0.0:9464 or 127.0.0.1:0 (IPv6 is not supported)"));
  }
  return absl::OkStatus();
}

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<prometheus::Exposer> exposer, int port)
    : exposer_(std::move(exposer)), port_(port) {}

MetricsEndpoint::~MetricsEndpoint() = default;

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& address, const ServerMetrics& metrics) {
  if (absl::Status status = CheckMetricsAddress(address); !status.ok()) return status;

  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", address, "num_threads", std::to_string(kThreads),
        "request_timeout_ms", kRequestTimeoutMilliseconds});
  } catch (const std::exception& error) {
    return absl::UnavailableError(absl::StrCat(
        "cannot serve metrics on ", address, " (", error.what(),
        "): the port is in use or the address is not on this machine; pick another "
        "--metrics-listen"));
  }
  for (const auto& collectable : metrics.collectables()) exposer->RegisterCollectable(collectable);

  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", address));
  }
  return std::unique_ptr<MetricsEndpoint>(new MetricsEndpoint(std::move(exposer), ports.front()));
}

}  // namespace textgen
