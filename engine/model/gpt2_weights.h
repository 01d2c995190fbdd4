#ifndef TEXTGEN_ENGINE_MODEL_GPT2_WEIGHTS_H_
#define TEXTGEN_ENGINE_MODEL_GPT2_WEIGHTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace textgen {

// Hyperparameters of a GPT-2-architecture model.
struct Gpt2Config {
  int dim = 0;             // n_embd, width of the residual stream
  int hidden_dim = 0;      // width of the feed-forward layer, 4 * dim in GPT-2
  int n_layers = 0;
  int n_heads = 0;
  int vocab_size = 0;
  int context_length = 0;  // learned positions, prompt included
  float layer_norm_epsilon = 1e-5f;
  bool shared_classifier = true;  // the classifier reuses the token embedding

  int head_dim() const { return dim / n_heads; }

  // Checks that every size is positive and that heads divide dim; `source`
  // names the file in error messages.
  absl::Status Validate(const std::string& source) const;
};

// The f32 weights of one GPT-2 block. Matrices are row-major
// [out_features, in_features], so y = W x + b.
struct Gpt2LayerWeights {
  std::vector<float> attention_norm_weight;  // [dim]
  std::vector<float> attention_norm_bias;    // [dim]
  std::vector<float> qkv_weight;             // [3 * dim, dim], rows q then k then v
  std::vector<float> qkv_bias;               // [3 * dim]
  std::vector<float> output_weight;          // [dim, dim]
  std::vector<float> output_bias;            // [dim]
  std::vector<float> ffn_norm_weight;        // [dim]
  std::vector<float> ffn_norm_bias;          // [dim]
  std::vector<float> up_weight;              // [hidden_dim, dim]
  std::vector<float> up_bias;                // [hidden_dim]
  std::vector<float> down_weight;            // [dim, hidden_dim]
  std::vector<float> down_bias;              // [dim]
};

// The weights of a GPT-2 model as read from a file.
struct Gpt2Weights {
  Gpt2Config config;
  std::vector<float> token_embedding;     // [vocab_size, dim]
  std::vector<float> position_embedding;  // [context_length, dim]
  std::vector<Gpt2LayerWeights> layers;
  std::vector<float> final_norm_weight;   // [dim]
  std::vector<float> final_norm_bias;     // [dim]
  // [vocab_size, dim]; empty when config.shared_classifier is true.
  std::vector<float> classifier;

  // Returns the number of parameters, the classifier counted once when shared.
  uint64_t ParameterCount() const;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_MODEL_GPT2_WEIGHTS_H_
