#include "engine/compute/weight_type.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace textgen {

std::string_view WeightTypeName(WeightType type) {
  return type == WeightType::kBF16 ? "bf16" : "f32";
}

absl::StatusOr<WeightType> ParseWeightType(std::string_view name) {
  if (name == "f32") return WeightType::kF32;
  if (name == "bf16") return WeightType::kBF16;
  return absl::InvalidArgumentError(
      absl::StrCat("weight type \"", std::string(name), "\" is not supported; expected f32 or bf16"));
}

}  // namespace textgen
