#ifndef TEXTGEN_ENGINE_MODEL_GPT2_MODEL_H_
#define TEXTGEN_ENGINE_MODEL_GPT2_MODEL_H_

#include <memory>
#include <string>
#include <vector>

#include "engine/compute/dnnl_matmul.h"
#include "engine/model/gpt2_weights.h"
#include "engine/model/model.h"

namespace textgen {

// The GPT-2 forward pass: token plus learned position embeddings, then per
// block LayerNorm, fused q/k/v projection with bias, causal multi-head
// attention over the KV cache, output projection, LayerNorm and a GELU
// feed-forward layer, each sublayer added to the residual stream; then a
// final LayerNorm and the classifier. Every matmul goes through one
// DnnlMatmul.
class Gpt2Model : public Model {
 public:
  // Packs the weight matrices once for oneDNN. `name` is reported to clients.
  Gpt2Model(const Gpt2Weights& weights, WeightType weight_type, std::string name);

  const ModelDescription& description() const override { return description_; }
  KvLayout kv_layout(int64_t block_size) const override;
  std::unique_ptr<KvCache> NewKvCache(int64_t capacity) const override;
  void Forward(absl::Span<const SequenceStep> steps) override;

 private:
  struct PackedLayer {
    std::vector<float> attention_norm_weight;  // [dim]
    std::vector<float> attention_norm_bias;    // [dim]
    PackedMatrix qkv;                          // [3 * dim, dim] with bias
    PackedMatrix output;                       // [dim, dim] with bias
    std::vector<float> ffn_norm_weight;        // [dim]
    std::vector<float> ffn_norm_bias;          // [dim]
    PackedMatrix up;                           // [hidden_dim, dim] with bias, then GELU
    PackedMatrix down;                         // [dim, hidden_dim] with bias
  };

  // Buffers of one forward pass, sized for its total row count.
  struct Activations {
    std::vector<float> x;          // [rows, dim] residual stream
    std::vector<float> normed;     // [rows, dim]
    std::vector<float> qkv;        // [rows, 3 * dim]
    std::vector<float> q;          // [rows, dim]
    std::vector<float> attention;  // [rows, dim]
    std::vector<float> projected;  // [rows, dim]
    std::vector<float> hidden;     // [rows, hidden_dim]
    std::vector<float> last;       // [sequences, dim]
    std::vector<float> logits;     // [sequences, vocab_size]
  };

  void Embed(absl::Span<const SequenceStep> steps);
  void AttentionBlock(const PackedLayer& layer, int64_t layer_index,
                      absl::Span<const SequenceStep> steps, int64_t rows);
  void FeedForwardBlock(const PackedLayer& layer, int64_t rows);
  void Classify(absl::Span<const SequenceStep> steps);
  void Resize(int64_t rows, int64_t sequences);

  Gpt2Config config_;
  ModelDescription description_;
  DnnlMatmul matmul_;
  std::vector<float> token_embedding_;     // [vocab_size, dim]
  std::vector<float> position_embedding_;  // [context_length, dim]
  std::vector<PackedLayer> layers_;
  std::vector<float> final_norm_weight_;   // [dim]
  std::vector<float> final_norm_bias_;     // [dim]
  PackedMatrix classifier_;                // [vocab_size, dim]
  Activations activations_;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_MODEL_GPT2_MODEL_H_
