#include "engine/compute/attention.h"

#include <cmath>
#include <cstring>

#include "engine/compute/softmax.h"

namespace textgen {

void CausalAttention(const float* queries, int64_t rows, int64_t first_position,
                     const KvLayerView& cache, const AttentionShape& shape, float* scratch,
                     float* out) {
  const int64_t q_dim = shape.n_heads * shape.head_dim;
  const int64_t group_size = shape.n_heads / shape.n_kv_heads;
  // Divides rather than multiplies by 1/sqrt, as llama2.c does, so float
  // rounding matches it.
  const float sqrt_head_dim = std::sqrt(static_cast<float>(shape.head_dim));

  for (int64_t t = 0; t < rows; ++t) {
    const int64_t visible = first_position + t + 1;
    for (int64_t h = 0; h < shape.n_heads; ++h) {
      const float* q = queries + t * q_dim + h * shape.head_dim;
      const int64_t kv_offset = (h / group_size) * shape.head_dim;

      // Scores against every visible key.
      for (int64_t j = 0; j < visible; ++j) {
        const float* k = cache.key_row(j) + kv_offset;
        float dot = 0.0f;
        for (int64_t i = 0; i < shape.head_dim; ++i) dot += q[i] * k[i];
        scratch[j] = dot / sqrt_head_dim;
      }

      Softmax(scratch, visible);

      // Weighted sum of the values.
      float* o = out + t * q_dim + h * shape.head_dim;
      std::memset(o, 0, sizeof(float) * shape.head_dim);
      for (int64_t j = 0; j < visible; ++j) {
        const float* v = cache.value_row(j) + kv_offset;
        const float weight = scratch[j];
        for (int64_t i = 0; i < shape.head_dim; ++i) o[i] += weight * v[i];
      }
    }
  }
}

}  // namespace textgen
