#ifndef TEXTGEN_ENGINE_COMPUTE_ATTENTION_H_
#define TEXTGEN_ENGINE_COMPUTE_ATTENTION_H_

#include <cstdint>

namespace textgen {

// The sizes of grouped-query attention: each key/value head serves
// n_heads / n_kv_heads query heads.
struct AttentionShape {
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
};

// Causal grouped-query attention of one sequence. Query row t sits at
// position p = first_position + t and sees cache positions 0..p:
//   s[j]        = q[t, h] . k[j, g] / sqrt(head_dim),   g = h / (n_heads / n_kv_heads)
//   out[t, h]   = sum_j softmax(s)[j] * v[j, g]
// queries and out are [rows, n_heads * head_dim]; keys and values are
// [positions, n_kv_heads * head_dim] and must hold positions up to
// first_position + rows - 1; scratch holds first_position + rows floats.
void CausalAttention(const float* queries, int64_t rows, int64_t first_position,
                     const float* keys, const float* values, const AttentionShape& shape,
                     float* scratch, float* out);

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_COMPUTE_ATTENTION_H_
