#ifndef TEXTGEN_ENGINE_COMPUTE_WEIGHT_TYPE_H_
#define TEXTGEN_ENGINE_COMPUTE_WEIGHT_TYPE_H_

#include <string_view>

#include "absl/status/statusor.h"

namespace textgen {

// The number format weight matrices are kept in for matmuls. Activations are
// always f32.
enum class WeightType { kF32, kBF16 };

// "f32" or "bf16".
std::string_view WeightTypeName(WeightType type);

// Parses "f32" or "bf16".
absl::StatusOr<WeightType> ParseWeightType(std::string_view name);

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_COMPUTE_WEIGHT_TYPE_H_
