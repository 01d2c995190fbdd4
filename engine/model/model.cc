#include "engine/model/model.h"

#include <cstring>

namespace textgen {

void GatherLastRows(absl::Span<const SequenceStep> steps, const float* x, int64_t dim,
                    float* last) {
  int64_t row = 0;
  for (size_t s = 0; s < steps.size(); ++s) {
    row += static_cast<int64_t>(steps[s].tokens.size());
    std::memcpy(last + s * dim, x + (row - 1) * dim, dim * sizeof(float));
  }
}

void ScatterLogits(absl::Span<const SequenceStep> steps, const float* logits, int64_t vocab_size) {
  for (size_t s = 0; s < steps.size(); ++s) {
    std::memcpy(steps[s].logits, logits + s * vocab_size, vocab_size * sizeof(float));
  }
}

}  // namespace textgen
