#ifndef TEXTGEN_SERVER_METRICS_ENDPOINT_H_
#define TEXTGEN_SERVER_METRICS_ENDPOINT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/metrics.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace textgen {

// Checks that `address` is IPV4:PORT with a port from 0 to 65535;
// INVALID_ARGUMENT naming --metrics-listen otherwise.
absl::Status CheckMetricsAddress(absl::string_view address);

// The HTTP server that Prometheus scrapes: GET /metrics returns `metrics` in
// the text exposition format.
class MetricsEndpoint {
 public:
  // Listens on `address`, IPV4:PORT; port 0 picks a free one. `metrics`
  // must outlive the endpoint.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(const std::string& address,
                                                               const ServerMetrics& metrics);
  ~MetricsEndpoint();

  int port() const { return port_; }

 private:
  MetricsEndpoint(std::unique_ptr<prometheus::Exposer> exposer, int port);

  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
};

}  // namespace textgen

#endif  // TEXTGEN_SERVER_METRICS_ENDPOINT_H_
