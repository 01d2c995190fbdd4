#ifndef TEXTGEN_ENGINE_MODEL_LLAMA_WEIGHTS_H_
#define TEXTGEN_ENGINE_MODEL_LLAMA_WEIGHTS_H_

#include <cstdint>
#include <vector>

#include "engine/model/llama_config.h"

namespace textgen {

// The f32 weights of one Llama layer as a file stores them. Every matrix is
// row-major [out_features, in_features], so y = W x.
struct LlamaLayerWeights {
  std::vector<float> attention_norm;  // [dim]
  std::vector<float> wq;              // [n_heads * head_dim, dim]
  std::vector<float> wk;              // [kv_dim, dim]
  std::vector<float> wv;              // [kv_dim, dim]
  std::vector<float> wo;              // [dim, n_heads * head_dim]
  std::vector<float> ffn_norm;        // [dim]
  std::vector<float> w_gate;          // [hidden_dim, dim]  (llama2.c's w1)
  std::vector<float> w_down;          // [dim, hidden_dim]  (llama2.c's w2)
  std::vector<float> w_up;            // [hidden_dim, dim]  (llama2.c's w3)
};

// The weights of a Llama model as read from a file, before they are packed
// for the compute backend.
struct LlamaWeights {
  LlamaConfig config;
  std::vector<float> token_embedding;  // [vocab_size, dim]
  std::vector<LlamaLayerWeights> layers;
  std::vector<float> final_norm;  // [dim]
  // [vocab_size, dim]; empty when config.shared_classifier is true.
  std::vector<float> classifier;

  // Returns the number of parameters, the classifier counted once when shared.
  uint64_t ParameterCount() const;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_MODEL_LLAMA_WEIGHTS_H_
