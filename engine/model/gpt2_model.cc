#include "engine/model/gpt2_model.h"

#include <cstring>
#include <utility>

#include "engine/compute/activations.h"
#include "engine/compute/attention.h"
#include "engine/compute/layer_norm.h"

namespace textgen {
Gpt2Model::Gpt2Model(const Gpt2Weights& weights, WeightType weight_type, std::string name)
    : config_(weights.config),
      token_embedding_(weights.token_embedding),
      position_embedding_(weights.position_embedding),
      final_norm_weight_(weights.final_norm_weight),
      final_norm_bias_(weights.final_norm_bias),
      classifier_(matmul_.Pack(weights.config.shared_classifier ? weights.token_embedding.data()
                                                                : weights.classifier.data(),
                               weights.config.vocab_size, weights.config.dim, weight_type)) {
  const int64_t dim = config_.dim, hidden = config_.hidden_dim;
  for (const Gpt2LayerWeights& layer : weights.layers) {
    layers_.push_back(PackedLayer{
        layer.attention_norm_weight,
        layer.attention_norm_bias,
        matmul_.Pack(layer.qkv_weight.data(), 3 * dim, dim, weight_type, layer.qkv_bias.data()),
        matmul_.Pack(layer.output_weight.data(), dim, dim, weight_type,
                     layer.output_bias.data()),
        layer.ffn_norm_weight,
        layer.ffn_norm_bias,
        matmul_.Pack(layer.up_weight.data(), hidden, dim, weight_type, layer.up_bias.data(),
                     Activation::kGeluTanh),
        matmul_.Pack(layer.down_weight.data(), dim, hidden, weight_type, layer.down_bias.data()),
    });
  }

  description_.name = std::move(name);
  description_.architecture = "gpt2";
  description_.context_length = config_.context_length;
  description_.vocab_size = config_.vocab_size;
  description_.parameter_count = weights.ParameterCount();
  description_.weight_type = weight_type;
}

KvLayout Gpt2Model::kv_layout(int64_t block_size) const {
  return KvLayout{config_.n_layers, config_.dim, block_size};
}

std::unique_ptr<KvCache> Gpt2Model::NewKvCache(int64_t capacity) const {
  return std::make_unique<KvCache>(kv_layout(capacity), capacity);
}

void Gpt2Model::Forward(absl::Span<const SequenceStep> steps) {
  const int64_t rows = TotalRows(steps);
  if (rows == 0) return;
  Resize(rows, static_cast<int64_t>(steps.size()));

  Embed(steps);

  for (int64_t l = 0; l < config_.n_layers; ++l) {
    AttentionBlock(layers_[l], l, steps, rows);
    FeedForwardBlock(layers_[l], rows);
  }

  Classify(steps);
}

void Gpt2Model::Resize(int64_t rows, int64_t sequences) {
  const int64_t dim = config_.dim;
  Activations& a = activations_;
  a.x.resize(rows * dim);
  a.normed.resize(rows * dim);
  a.qkv.resize(rows * 3 * dim);
  a.q.resize(rows * dim);
  a.attention.resize(rows * dim);
  a.projected.resize(rows * dim);
  a.hidden.resize(rows * config_.hidden_dim);
  a.last.resize(sequences * dim);
  a.logits.resize(sequences * config_.vocab_size);
}

void Gpt2Model::Embed(absl::Span<const SequenceStep> steps) {
  const int64_t dim = config_.dim;
  float* row = activations_.x.data();
  for (const SequenceStep& step : steps) {
    for (size_t t = 0; t < step.tokens.size(); ++t) {
      const float* token = token_embedding_.data() + step.tokens[t] * dim;
      const float* position = position_embedding_.data() + (step.first_position + t) * dim;
      for (int64_t i = 0; i < dim; ++i) row[i] = token[i] + position[i];
      row += dim;
    }
  }
}

void Gpt2Model::AttentionBlock(const PackedLayer& layer, int64_t layer_index,
                               absl::Span<const SequenceStep> steps, int64_t rows) {
  const int64_t dim = config_.dim;
  Activations& a = activations_;

  LayerNorm(a.x.data(), layer.attention_norm_weight.data(), layer.attention_norm_bias.data(),
            rows, dim, config_.layer_norm_epsilon, a.normed.data());

  matmul_.Multiply(a.normed.data(), rows, layer.qkv, a.qkv.data());

  // Split each row [q | k | v]: queries to their own buffer, keys and values
  // into the sequence's cache, then attend over that cache.
  const AttentionShape shape{config_.n_heads, config_.n_heads, config_.head_dim()};
  std::vector<AttentionSequence> attention_batch;
  int64_t row = 0;
  for (const SequenceStep& step : steps) {
    const int64_t step_rows = static_cast<int64_t>(step.tokens.size());
    for (int64_t t = 0; t < step_rows; ++t) {
      const int64_t position = step.first_position + t;
      const float* qkv = a.qkv.data() + (row + t) * 3 * dim;
      std::memcpy(a.q.data() + (row + t) * dim, qkv, dim * sizeof(float));
      std::memcpy(step.cache->key_row(layer_index, position), qkv + dim, dim * sizeof(float));
      std::memcpy(step.cache->value_row(layer_index, position), qkv + 2 * dim,
                  dim * sizeof(float));
    }

    attention_batch.push_back(AttentionSequence{a.q.data() + row * dim, step_rows,
                                                step.first_position,
                                                step.cache->layer_view(layer_index),
                                                a.attention.data() + row * dim});
    row += step_rows;
  }
  BatchedCausalAttention(attention_batch.data(), static_cast<int64_t>(attention_batch.size()),
                         shape);

  matmul_.Multiply(a.attention.data(), rows, layer.output, a.projected.data());
  AddResidual(a.x.data(), a.projected.data(), rows * dim);
}

void Gpt2Model::FeedForwardBlock(const PackedLayer& layer, int64_t rows) {
  const int64_t dim = config_.dim;
  Activations& a = activations_;

  LayerNorm(a.x.data(), layer.ffn_norm_weight.data(), layer.ffn_norm_bias.data(), rows, dim,
            config_.layer_norm_epsilon, a.normed.data());

  // The bias and GELU are fused into the up projection's matmul.
  matmul_.Multiply(a.normed.data(), rows, layer.up, a.hidden.data());

  matmul_.Multiply(a.hidden.data(), rows, layer.down, a.projected.data());
  AddResidual(a.x.data(), a.projected.data(), rows * dim);
}

void Gpt2Model::Classify(absl::Span<const SequenceStep> steps) {
  const int64_t dim = config_.dim, vocab = config_.vocab_size;
  const int64_t sequences = static_cast<int64_t>(steps.size());
  Activations& a = activations_;

  GatherLastRows(steps, a.x.data(), dim, a.last.data());

  LayerNorm(a.last.data(), final_norm_weight_.data(), final_norm_bias_.data(), sequences, dim,
            config_.layer_norm_epsilon, a.last.data());
  matmul_.Multiply(a.last.data(), sequences, classifier_, a.logits.data());

  ScatterLogits(steps, a.logits.data(), vocab);
}

}  // namespace textgen
