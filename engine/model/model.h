#ifndef TEXTGEN_ENGINE_MODEL_MODEL_H_
#define TEXTGEN_ENGINE_MODEL_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/types/span.h"
#include "engine/compute/weight_type.h"
#include "engine/model/kv_cache.h"

namespace textgen {

// The description of the served model that clients receive.
struct ModelDescription {
  std::string name;
  std::string architecture;  // "llama" or "gpt2"
  int64_t context_length = 0;
  int64_t vocab_size = 0;
  uint64_t parameter_count = 0;
  WeightType weight_type = WeightType::kF32;
};

// The part of one forward pass that belongs to one sequence: its new tokens,
// where they go in its cache, and where the logits of its last token go.
struct SequenceStep {
  absl::Span<const int32_t> tokens;  // [rows] new tokens, ids already validated
  int64_t first_position = 0;        // position of tokens[0] in the sequence
  KvCache* cache = nullptr;          // contains positions 0..first_position - 1
  float* logits = nullptr;           // [vocab_size] output for the last token
};

// Returns the number of tokens in all steps: the M of the step's matmuls.
inline int64_t TotalRows(absl::Span<const SequenceStep> steps) {
  int64_t rows = 0;
  for (const SequenceStep& step : steps) rows += static_cast<int64_t>(step.tokens.size());
  return rows;
}

// Copies the residual-stream row of each step's last token from x
// [TotalRows(steps), dim] into last [steps.size(), dim]: only those rows
// need logits.
void GatherLastRows(absl::Span<const SequenceStep> steps, const float* x, int64_t dim,
                    float* last);

// Copies each step's row of logits [steps.size(), vocab_size] to the step's
// own logits buffer.
void ScatterLogits(absl::Span<const SequenceStep> steps, const float* logits, int64_t vocab_size);

// A decoder-only transformer. Forward is not thread-safe: one engine thread
// runs it at a time.
class Model {
 public:
  virtual ~Model() = default;

  virtual const ModelDescription& description() const = 0;

  // The shape of this model's KV cache in blocks of `block_size` positions.
  virtual KvLayout kv_layout(int64_t block_size) const = 0;

  // Returns an empty cache with its own storage for one sequence of up to
  // `capacity` positions.
  virtual std::unique_ptr<KvCache> NewKvCache(int64_t capacity) const = 0;

  // Runs every step's tokens through the model as one batch, appends their
  // keys and values to each step's cache, and writes each step's logits.
  // Each step satisfies first_position + tokens.size() <= cache->capacity(),
  // and each cache has this model's kv_layout.
  virtual void Forward(absl::Span<const SequenceStep> steps) = 0;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_MODEL_MODEL_H_
