#ifndef TEXTGEN_TOOLS_CONVERT_HF_CONFIG_H_
#define TEXTGEN_TOOLS_CONVERT_HF_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "engine/model/gpt2_weights.h"
#include "engine/model/llama_config.h"

namespace textgen {

enum class HfModelType { kGpt2, kLlama };

// The parts of a Hugging Face config.json that a conversion needs.
struct HfModelConfig {
  HfModelType model_type = HfModelType::kGpt2;
  // Hyperparameters of the model_type in use; the other struct stays
  // default. vocab_size is config.json's, which may exceed the tokenizer's
  // token count when the embedding is padded. shared_classifier is
  // tie_word_embeddings, and the importer also treats a missing
  // lm_head.weight as tied.
  Gpt2Config gpt2;
  LlamaConfig llama;
  std::optional<int32_t> bos_token_id;
  std::optional<int32_t> eos_token_id;
};

// Reads config.json. model_type must be "gpt2" or "llama".
//
// GPT-2 requires n_embd, n_layer, n_head, vocab_size and n_positions (or
// n_ctx). n_inner defaults to 4 * n_embd, layer_norm_epsilon to 1e-5 and
// tie_word_embeddings to true. activation_function must be gelu_new or
// gelu_pytorch_tanh, the tanh approximation that the engine computes.
//
// Llama requires hidden_size, intermediate_size, num_hidden_layers,
// num_attention_heads, vocab_size and max_position_embeddings. As in
// transformers' LlamaConfig, num_key_value_heads defaults to
// num_attention_heads, rms_norm_eps to 1e-6, rope_theta to 10000 and
// tie_word_embeddings to false. rope_theta may also come from
// rope_parameters. Features the engine does not compute are rejected: a
// rope_type other than "default" in rope_parameters or rope_scaling,
// attention_bias, mlp_bias, a head_dim other than hidden_size /
// num_attention_heads, and a hidden_act other than silu.
//
// Errors name the file, the key, the value found and what was expected.
absl::StatusOr<HfModelConfig> ReadHfConfig(const std::string& path);

}  // namespace textgen

#endif  // TEXTGEN_TOOLS_CONVERT_HF_CONFIG_H_
