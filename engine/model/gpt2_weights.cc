#include "engine/model/gpt2_weights.h"

#include <tuple>

#include "absl/strings/str_cat.h"

namespace textgen {

absl::Status Gpt2Config::Validate(const std::string& source) const {
  // The upper bounds only reject garbage; they are far above any model this
  // engine can serve.
  for (auto [field, value, max] : {std::tuple{"embedding_length", dim, 1 << 16},
                                   std::tuple{"feed_forward_length", hidden_dim, 1 << 18},
                                   std::tuple{"block_count", n_layers, 1024},
                                   std::tuple{"attention.head_count", n_heads, 1024},
                                   std::tuple{"vocab_size", vocab_size, 1 << 22},
                                   std::tuple{"context_length", context_length, 1 << 20}}) {
    if (value <= 0 || value > max) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", field, " is ", value, ", expected 1 to ", max));
    }
  }
  if (dim % n_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": embedding_length (", dim,
                                                   ") is not a multiple of attention.head_count (",
                                                   n_heads, ")"));
  }
  return absl::OkStatus();
}

uint64_t Gpt2Weights::ParameterCount() const {
  uint64_t count = token_embedding.size() + position_embedding.size() + final_norm_weight.size() +
                   final_norm_bias.size() + classifier.size();
  for (const Gpt2LayerWeights& l : layers) {
    count += l.attention_norm_weight.size() + l.attention_norm_bias.size() + l.qkv_weight.size() +
             l.qkv_bias.size() + l.output_weight.size() + l.output_bias.size() +
             l.ffn_norm_weight.size() + l.ffn_norm_bias.size() + l.up_weight.size() +
             l.up_bias.size() + l.down_weight.size() + l.down_bias.size();
  }
  return count;
}

}  // namespace textgen
