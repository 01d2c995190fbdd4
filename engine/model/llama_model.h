#ifndef TEXTGEN_ENGINE_MODEL_LLAMA_MODEL_H_
#define TEXTGEN_ENGINE_MODEL_LLAMA_MODEL_H_

#include <memory>
#include <string>
#include <vector>

#include "engine/compute/dnnl_matmul.h"
#include "engine/model/llama_weights.h"
#include "engine/model/model.h"

namespace textgen {

// The Llama forward pass: token embedding, then per layer RMSNorm, q/k/v
// projections, rotary embedding, grouped-query causal attention over the KV
// cache, output projection, RMSNorm and a SwiGLU feed-forward layer, each
// sublayer added to the residual stream; then a final RMSNorm and the
// classifier. Every matmul goes through one DnnlMatmul.
class LlamaModel : public Model {
 public:
  // Packs the weight matrices once for oneDNN. `name` is reported to clients.
  LlamaModel(const LlamaWeights& weights, WeightType weight_type, std::string name);

  const ModelDescription& description() const override { return description_; }
  KvLayout kv_layout(int64_t block_size) const override;
  std::unique_ptr<KvCache> NewKvCache(int64_t capacity) const override;
  void Forward(absl::Span<const SequenceStep> steps) override;

 private:
  struct PackedLayer {
    std::vector<float> attention_norm;  // [dim]
    PackedMatrix wq;                    // [dim, dim]
    PackedMatrix wk;                    // [kv_dim, dim]
    PackedMatrix wv;                    // [kv_dim, dim]
    PackedMatrix wo;                    // [dim, dim]
    std::vector<float> ffn_norm;        // [dim]
    PackedMatrix w_gate;                // [hidden_dim, dim]
    PackedMatrix w_up;                  // [hidden_dim, dim]
    PackedMatrix w_down;                // [dim, hidden_dim]
  };

  // Buffers of one forward pass, sized for its total row count.
  struct Activations {
    std::vector<float> x;          // [rows, dim] residual stream
    std::vector<float> normed;     // [rows, dim]
    std::vector<float> q;          // [rows, dim]
    std::vector<float> k;          // [rows, kv_dim]
    std::vector<float> v;          // [rows, kv_dim]
    std::vector<float> attention;  // [rows, dim]
    std::vector<float> projected;  // [rows, dim]
    std::vector<float> gate;       // [rows, hidden_dim]
    std::vector<float> up;         // [rows, hidden_dim]
    std::vector<float> last;       // [sequences, dim]
    std::vector<float> logits;     // [sequences, vocab_size]
  };

  void Embed(absl::Span<const SequenceStep> steps);
  void AttentionBlock(const PackedLayer& layer, int64_t layer_index,
                      absl::Span<const SequenceStep> steps, int64_t rows);
  void FeedForwardBlock(const PackedLayer& layer, int64_t rows);
  void Classify(absl::Span<const SequenceStep> steps);
  void Resize(int64_t rows, int64_t sequences);

  LlamaConfig config_;
  ModelDescription description_;
  DnnlMatmul matmul_;
  std::vector<float> token_embedding_;  // [vocab_size, dim]
  std::vector<PackedLayer> layers_;
  std::vector<float> final_norm_;       // [dim]
  PackedMatrix classifier_;             // [vocab_size, dim]
  Activations activations_;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_MODEL_LLAMA_MODEL_H_
