#include "engine/model/llama_model.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "engine/compute/activations.h"
#include "engine/compute/attention.h"
#include "engine/compute/rms_norm.h"
#include "engine/compute/rope.h"

namespace textgen {
LlamaModel::LlamaModel(const LlamaWeights& weights, WeightType weight_type, std::string name)
    : config_(weights.config),
      token_embedding_(weights.token_embedding),
      final_norm_(weights.final_norm),
      classifier_(matmul_.Pack(weights.config.shared_classifier ? weights.token_embedding.data()
                                                                : weights.classifier.data(),
                               weights.config.vocab_size, weights.config.dim, weight_type)) {
  const int64_t dim = config_.dim, kv_dim = config_.kv_dim(), hidden = config_.hidden_dim;
  for (const LlamaLayerWeights& layer : weights.layers) {
    layers_.push_back(PackedLayer{
        layer.attention_norm,
        matmul_.Pack(layer.wq.data(), dim, dim, weight_type),
        matmul_.Pack(layer.wk.data(), kv_dim, dim, weight_type),
        matmul_.Pack(layer.wv.data(), kv_dim, dim, weight_type),
        matmul_.Pack(layer.wo.data(), dim, dim, weight_type),
        layer.ffn_norm,
        matmul_.Pack(layer.w_gate.data(), hidden, dim, weight_type),
        matmul_.Pack(layer.w_up.data(), hidden, dim, weight_type),
        matmul_.Pack(layer.w_down.data(), dim, hidden, weight_type),
    });
  }

  description_.name = std::move(name);
  description_.architecture = "llama";
  description_.context_length = config_.context_length;
  description_.vocab_size = config_.vocab_size;
  description_.parameter_count = weights.ParameterCount();
  description_.weight_type = weight_type;
}

KvLayout LlamaModel::kv_layout(int64_t block_size) const {
  return KvLayout{config_.n_layers, config_.kv_dim(), block_size};
}

std::unique_ptr<KvCache> LlamaModel::NewKvCache(int64_t capacity) const {
  return std::make_unique<KvCache>(kv_layout(capacity), capacity);
}

void LlamaModel::Forward(absl::Span<const SequenceStep> steps) {
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

void LlamaModel::Resize(int64_t rows, int64_t sequences) {
  const int64_t dim = config_.dim, kv_dim = config_.kv_dim(), hidden = config_.hidden_dim;
  Activations& a = activations_;
  a.x.resize(rows * dim);
  a.normed.resize(rows * dim);
  a.q.resize(rows * dim);
  a.k.resize(rows * kv_dim);
  a.v.resize(rows * kv_dim);
  a.attention.resize(rows * dim);
  a.projected.resize(rows * dim);
  a.gate.resize(rows * hidden);
  a.up.resize(rows * hidden);
  a.last.resize(sequences * dim);
  a.logits.resize(sequences * config_.vocab_size);
}

void LlamaModel::Embed(absl::Span<const SequenceStep> steps) {
  const int64_t dim = config_.dim;
  float* row = activations_.x.data();
  for (const SequenceStep& step : steps) {
    for (int32_t token : step.tokens) {
      std::memcpy(row, token_embedding_.data() + token * dim, dim * sizeof(float));
      row += dim;
    }
  }
}

void LlamaModel::AttentionBlock(const PackedLayer& layer, int64_t layer_index,
                                absl::Span<const SequenceStep> steps, int64_t rows) {
  const int64_t dim = config_.dim, kv_dim = config_.kv_dim(), head_dim = config_.head_dim();
  Activations& a = activations_;

  RmsNorm(a.x.data(), layer.attention_norm.data(), rows, dim, config_.rms_norm_epsilon,
          a.normed.data());

  matmul_.Multiply(a.normed.data(), rows, layer.wq, a.q.data());
  matmul_.Multiply(a.normed.data(), rows, layer.wk, a.k.data());
  matmul_.Multiply(a.normed.data(), rows, layer.wv, a.v.data());

  // Rotate each row's queries and keys by its position, append its keys and
  // values to its sequence's cache, then attend over that cache.
  const AttentionShape shape{config_.n_heads, config_.n_kv_heads, head_dim};
  std::vector<AttentionSequence> attention_batch;
  int64_t row = 0;
  for (const SequenceStep& step : steps) {
    const int64_t step_rows = static_cast<int64_t>(step.tokens.size());
    for (int64_t t = 0; t < step_rows; ++t) {
      const int64_t position = step.first_position + t;
      float* q = a.q.data() + (row + t) * dim;
      float* k = a.k.data() + (row + t) * kv_dim;
      ApplyRope(q, config_.n_heads, head_dim, position, config_.rope_freq_base);
      ApplyRope(k, config_.n_kv_heads, head_dim, position, config_.rope_freq_base);
      std::memcpy(step.cache->key_row(layer_index, position), k, kv_dim * sizeof(float));
      std::memcpy(step.cache->value_row(layer_index, position), a.v.data() + (row + t) * kv_dim,
                  kv_dim * sizeof(float));
    }

    attention_batch.push_back(AttentionSequence{a.q.data() + row * dim, step_rows,
                                                step.first_position,
                                                step.cache->layer_view(layer_index),
                                                a.attention.data() + row * dim});
    row += step_rows;
  }
  BatchedCausalAttention(attention_batch.data(), static_cast<int64_t>(attention_batch.size()),
                         shape);

  matmul_.Multiply(a.attention.data(), rows, layer.wo, a.projected.data());
  AddResidual(a.x.data(), a.projected.data(), rows * dim);
}

void LlamaModel::FeedForwardBlock(const PackedLayer& layer, int64_t rows) {
  const int64_t dim = config_.dim, hidden = config_.hidden_dim;
  Activations& a = activations_;

  RmsNorm(a.x.data(), layer.ffn_norm.data(), rows, dim, config_.rms_norm_epsilon,
          a.normed.data());

  matmul_.Multiply(a.normed.data(), rows, layer.w_gate, a.gate.data());
  matmul_.Multiply(a.normed.data(), rows, layer.w_up, a.up.data());
  SwiGlu(a.gate.data(), a.up.data(), rows * hidden);

  matmul_.Multiply(a.gate.data(), rows, layer.w_down, a.projected.data());
  AddResidual(a.x.data(), a.projected.data(), rows * dim);
}

void LlamaModel::Classify(absl::Span<const SequenceStep> steps) {
  const int64_t dim = config_.dim, vocab = config_.vocab_size;
  const int64_t sequences = static_cast<int64_t>(steps.size());
  Activations& a = activations_;

  GatherLastRows(steps, a.x.data(), dim, a.last.data());

  RmsNorm(a.last.data(), final_norm_.data(), sequences, dim, config_.rms_norm_epsilon,
          a.last.data());
  matmul_.Multiply(a.last.data(), sequences, classifier_, a.logits.data());

  ScatterLogits(steps, a.logits.data(), vocab);
}

}  // namespace textgen
