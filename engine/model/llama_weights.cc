#include "engine/model/llama_weights.h"

namespace textgen {

uint64_t LlamaWeights::ParameterCount() const {
  uint64_t count = token_embedding.size() + final_norm.size() + classifier.size();
  for (const LlamaLayerWeights& layer : layers) {
    count += layer.attention_norm.size() + layer.wq.size() + layer.wk.size() + layer.wv.size() +
             layer.wo.size() + layer.ffn_norm.size() + layer.w_gate.size() + layer.w_down.size() +
             layer.w_up.size();
  }
  return count;
}

}  // namespace textgen
