#include "engine/model/llama_config.h"

#include "absl/strings/str_cat.h"

namespace textgen {
namespace {

absl::Status CheckRange(const std::string& source, const char* field, int value, int max) {
  if (value <= 0 || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", field, " is ", value, ", expected 1 to ", max));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LlamaConfig::Validate(const std::string& source) const {
  // The upper bounds only reject garbage headers; they are far above any
  // model this engine can serve.
  for (auto [field, value, max] : {std::tuple{"dim", dim, 1 << 16},
                                   std::tuple{"hidden_dim", hidden_dim, 1 << 18},
                                   std::tuple{"n_layers", n_layers, 1024},
                                   std::tuple{"n_heads", n_heads, 1024},
                                   std::tuple{"n_kv_heads", n_kv_heads, 1024},
                                   std::tuple{"vocab_size", vocab_size, 1 << 22},
                                   std::tuple{"context_length", context_length, 1 << 20}}) {
    absl::Status status = CheckRange(source, field, value, max);
    if (!status.ok()) return status;
  }
  if (dim % n_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": dim (", dim,
                                                   ") is not a multiple of n_heads (", n_heads, ")"));
  }
  if (n_heads % n_kv_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": n_heads (", n_heads, ") is not a multiple of n_kv_heads (", n_kv_heads, ")"));
  }
  return absl::OkStatus();
}

}  // namespace textgen
