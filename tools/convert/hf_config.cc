#include "tools/convert/hf_config.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/util/status_macros.h"
#include "nlohmann/json.hpp"
#include "tools/convert/json_file.h"

namespace textgen {
namespace {

using Json = nlohmann::json;

// Sizes above this are rejected as garbage long before the engine's own
// limits matter.
constexpr int64_t kMaxSize = 1 << 30;

// Reads config.json's values with error messages that name the file and key.
class ConfigReader {
 public:
  // `prefix` names the enclosing object in messages, as in "rope_scaling.".
  ConfigReader(const std::string& path, const Json& json, std::string prefix = "")
      : path_(path), json_(json), prefix_(std::move(prefix)) {}

  const std::string& path() const { return path_; }

  bool Has(const char* key) const { return json_.contains(key) && !json_[key].is_null(); }

  absl::StatusOr<int> PositiveInt(const char* key) const {
    if (!Has(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": key ", prefix_, key, " is missing, expected a positive integer"));
    }
    const Json& value = json_[key];
    if (!value.is_number_integer() || value.get<int64_t>() <= 0 ||
        value.get<int64_t>() > kMaxSize) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": key ", prefix_, key, " is ", value.dump(),
                                                     ", expected an integer from 1 to ",
                                                     kMaxSize));
    }
    return static_cast<int>(value.get<int64_t>());
  }

  absl::StatusOr<int> PositiveIntOr(const char* key, int fallback) const {
    if (!Has(key)) return fallback;
    return PositiveInt(key);
  }

  absl::StatusOr<float> PositiveFloatOr(const char* key, float fallback) const {
    if (!Has(key)) return fallback;
    const Json& value = json_[key];
    if (!value.is_number() || !(value.get<double>() > 0)) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": key ", prefix_, key, " is ", value.dump(),
                                                     ", expected a positive number"));
    }
    return static_cast<float>(value.get<double>());
  }

  absl::StatusOr<bool> BoolOr(const char* key, bool fallback) const {
    if (!Has(key)) return fallback;
    const Json& value = json_[key];
    if (!value.is_boolean()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": key ", prefix_, key, " is ", value.dump(), ", expected true or false"));
    }
    return value.get<bool>();
  }

  absl::StatusOr<std::string> StringOr(const char* key, const std::string& fallback) const {
    if (!Has(key)) return fallback;
    const Json& value = json_[key];
    if (!value.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": key ", prefix_, key, " is ", value.dump(), ", expected a string"));
    }
    return value.get<std::string>();
  }

  // Reads a token id. transformers writes null or omits the key when the
  // model has no such token, and some configs give a list of ids (several
  // EOS tokens), of which the first is used.
  absl::StatusOr<std::optional<int32_t>> TokenId(const char* key) const {
    if (!Has(key)) return std::optional<int32_t>();
    const Json* value = &json_[key];
    if (value->is_array() && !value->empty()) value = &(*value)[0];
    if (!value->is_number_integer() || value->get<int64_t>() < 0 ||
        value->get<int64_t>() > kMaxSize) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": key ", prefix_, key, " is ",
                                                     json_[key].dump(),
                                                     ", expected a token id (an integer >= 0)"));
    }
    return std::optional<int32_t>(static_cast<int32_t>(value->get<int64_t>()));
  }

  // Returns the object at `key`, which must exist.
  absl::StatusOr<const Json*> Object(const char* key) const {
    const Json& value = json_[key];
    if (!value.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": key ", prefix_, key, " is ",
                                                     value.dump(), ", expected an object"));
    }
    return &value;
  }

  absl::Status Reject(const char* key, absl::string_view value, absl::string_view expected) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": key ", prefix_, key, " is ", value,
                                                   ", expected ", expected));
  }

 private:
  const std::string& path_;
  const Json& json_;
  std::string prefix_;
};

absl::Status ReadGpt2(const ConfigReader& reader, Gpt2Config& config) {
  ASSIGN_OR_RETURN(config.dim, reader.PositiveInt("n_embd"));
  ASSIGN_OR_RETURN(config.n_layers, reader.PositiveInt("n_layer"));
  ASSIGN_OR_RETURN(config.n_heads, reader.PositiveInt("n_head"));
  ASSIGN_OR_RETURN(config.vocab_size, reader.PositiveInt("vocab_size"));
  if (reader.Has("n_positions") || !reader.Has("n_ctx")) {
    ASSIGN_OR_RETURN(config.context_length, reader.PositiveInt("n_positions"));
  } else {
    ASSIGN_OR_RETURN(config.context_length, reader.PositiveInt("n_ctx"));
  }
  ASSIGN_OR_RETURN(config.hidden_dim, reader.PositiveIntOr("n_inner", 4 * config.dim));
  ASSIGN_OR_RETURN(config.layer_norm_epsilon, reader.PositiveFloatOr("layer_norm_epsilon", 1e-5f));
  ASSIGN_OR_RETURN(config.shared_classifier, reader.BoolOr("tie_word_embeddings", true));

  ASSIGN_OR_RETURN(std::string activation, reader.StringOr("activation_function", "gelu_new"));
  if (activation != "gelu_new" && activation != "gelu_pytorch_tanh") {
    return reader.Reject("activation_function", absl::StrCat("\"", activation, "\""),
                         "\"gelu_new\" or \"gelu_pytorch_tanh\" (GELU with the tanh "
                         "approximation, which the engine computes)");
  }
  if (config.dim % config.n_heads != 0) {
    return reader.Reject("n_embd", absl::StrCat(config.dim),
                         absl::StrCat("a multiple of n_head (", config.n_heads, ")"));
  }
  return absl::OkStatus();
}

// Reads the rotary embedding's base and rejects scaled variants. Recent
// transformers versions write {"rope_type", "rope_theta"} as
// rope_parameters. Earlier ones write rope_theta at the top level and the
// scaling as rope_scaling.
absl::Status ReadRope(const ConfigReader& reader, LlamaConfig& config) {
  ASSIGN_OR_RETURN(config.rope_freq_base, reader.PositiveFloatOr("rope_theta", 10000.0f));
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    if (!reader.Has(key)) continue;
    ASSIGN_OR_RETURN(const Json* object, reader.Object(key));
    ConfigReader nested(reader.path(), *object, absl::StrCat(key, "."));
    const char* type_key = nested.Has("rope_type") || !nested.Has("type") ? "rope_type" : "type";
    ASSIGN_OR_RETURN(std::string type, nested.StringOr(type_key, "default"));
    if (type != "default") {
      return nested.Reject(type_key, absl::StrCat("\"", type, "\""),
                           "\"default\": scaled rotary embeddings are not supported");
    }
    ASSIGN_OR_RETURN(config.rope_freq_base,
                     nested.PositiveFloatOr("rope_theta", config.rope_freq_base));
  }
  return absl::OkStatus();
}

absl::Status ReadLlama(const ConfigReader& reader, LlamaConfig& config) {
  ASSIGN_OR_RETURN(config.dim, reader.PositiveInt("hidden_size"));
  ASSIGN_OR_RETURN(config.hidden_dim, reader.PositiveInt("intermediate_size"));
  ASSIGN_OR_RETURN(config.n_layers, reader.PositiveInt("num_hidden_layers"));
  ASSIGN_OR_RETURN(config.n_heads, reader.PositiveInt("num_attention_heads"));
  ASSIGN_OR_RETURN(config.n_kv_heads, reader.PositiveIntOr("num_key_value_heads", config.n_heads));
  ASSIGN_OR_RETURN(config.vocab_size, reader.PositiveInt("vocab_size"));
  ASSIGN_OR_RETURN(config.context_length, reader.PositiveInt("max_position_embeddings"));
  ASSIGN_OR_RETURN(config.rms_norm_epsilon, reader.PositiveFloatOr("rms_norm_eps", 1e-6f));
  RETURN_IF_ERROR(ReadRope(reader, config));
  ASSIGN_OR_RETURN(config.shared_classifier, reader.BoolOr("tie_word_embeddings", false));

  if (config.dim % config.n_heads != 0) {
    return reader.Reject(
        "hidden_size", absl::StrCat(config.dim),
        absl::StrCat("a multiple of num_attention_heads (", config.n_heads, ")"));
  }
  if (config.n_heads % config.n_kv_heads != 0) {
    return reader.Reject(
        "num_key_value_heads", absl::StrCat(config.n_kv_heads),
        absl::StrCat("a divisor of num_attention_heads (", config.n_heads, ")"));
  }
  if (config.head_dim() % 2 != 0) {
    return reader.Reject("hidden_size", absl::StrCat(config.dim),
                         "an even head size hidden_size / num_attention_heads for rotary "
                         "embeddings");
  }
  ASSIGN_OR_RETURN(int head_dim, reader.PositiveIntOr("head_dim", config.head_dim()));
  if (head_dim != config.head_dim()) {
    return reader.Reject(
        "head_dim", absl::StrCat(head_dim),
        absl::StrCat("hidden_size / num_attention_heads (", config.head_dim(), ")"));
  }
  ASSIGN_OR_RETURN(std::string activation, reader.StringOr("hidden_act", "silu"));
  if (activation != "silu") {
    return reader.Reject("hidden_act", absl::StrCat("\"", activation, "\""),
                         "\"silu\" (the engine computes SwiGLU)");
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    ASSIGN_OR_RETURN(bool has_bias, reader.BoolOr(key, false));
    if (has_bias) return reader.Reject(key, "true", "false: the engine's Llama has no biases");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HfModelConfig> ReadHfConfig(const std::string& path) {
  ASSIGN_OR_RETURN(Json json, ReadJsonFile(path));
  if (!json.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": holds ", json.type_name(), ", expected a JSON object"));
  }
  ConfigReader reader(path, json);

  HfModelConfig config;
  ASSIGN_OR_RETURN(std::string model_type, reader.StringOr("model_type", ""));
  if (model_type == "gpt2") {
    config.model_type = HfModelType::kGpt2;
    RETURN_IF_ERROR(ReadGpt2(reader, config.gpt2));
    RETURN_IF_ERROR(config.gpt2.Validate(path));
  } else if (model_type == "llama") {
    config.model_type = HfModelType::kLlama;
    RETURN_IF_ERROR(ReadLlama(reader, config.llama));
    RETURN_IF_ERROR(config.llama.Validate(path));
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": key model_type is ", model_type.empty() ? "missing" : "\"" + model_type + "\"",
        ", expected \"gpt2\" or \"llama\", the architectures this converter supports"));
  }
  ASSIGN_OR_RETURN(config.bos_token_id, reader.TokenId("bos_token_id"));
  ASSIGN_OR_RETURN(config.eos_token_id, reader.TokenId("eos_token_id"));
  return config;
}

}  // namespace textgen
