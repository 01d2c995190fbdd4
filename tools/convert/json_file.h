#ifndef TEXTGEN_TOOLS_CONVERT_JSON_FILE_H_
#define TEXTGEN_TOOLS_CONVERT_JSON_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace textgen {

// Reads and parses a JSON file. Returns NotFound when the file cannot be
// opened and InvalidArgument, naming the file, when it is not valid JSON.
absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path);

}  // namespace textgen

#endif  // TEXTGEN_TOOLS_CONVERT_JSON_FILE_H_
