#ifndef TEXTGEN_SERVER_STATUS_MAPPING_H_
#define TEXTGEN_SERVER_STATUS_MAPPING_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace textgen {

// Converts an engine status into the gRPC status sent to the client, keeping
// its message. The one place where absl codes become gRPC codes.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace textgen

#endif  // TEXTGEN_SERVER_STATUS_MAPPING_H_
