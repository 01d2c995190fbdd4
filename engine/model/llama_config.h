#ifndef TEXTGEN_ENGINE_MODEL_LLAMA_CONFIG_H_
#define TEXTGEN_ENGINE_MODEL_LLAMA_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace textgen {

// Hyperparameters of a Llama-architecture model.
struct LlamaConfig {
  int dim = 0;             // width of the residual stream
  int hidden_dim = 0;      // width of the SwiGLU feed-forward layer
  int n_layers = 0;
  int n_heads = 0;         // query heads
  int n_kv_heads = 0;      // key/value heads; n_heads is a multiple of it
  int vocab_size = 0;
  int context_length = 0;  // maximum positions, prompt included
  float rms_norm_epsilon = 1e-5f;
  float rope_freq_base = 10000.0f;
  bool shared_classifier = true;  // the classifier reuses the token embedding

  int head_dim() const { return dim / n_heads; }
  int kv_dim() const { return n_kv_heads * head_dim(); }

  // Checks that every size is positive and that heads divide evenly;
  // `source` names the file in error messages.
  absl::Status Validate(const std::string& source) const;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_MODEL_LLAMA_CONFIG_H_
