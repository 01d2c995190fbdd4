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

// The location of one layer's cached keys and values of one sequence. The
// cache is paged: position p lives in block block_ids[p / block_size], whose storage
// starts at base + block_id * block_stride. Within a block, this layer's keys
// are [block_size, kv_dim] at layer_offset and its values follow at
// layer_offset + value_offset.
struct KvLayerView {
  const float* base = nullptr;
  const int32_t* block_ids = nullptr;
  int64_t block_size = 0;
  int64_t block_stride = 0;  // floats per block
  int64_t layer_offset = 0;  // floats from a block's start to this layer's keys
  int64_t value_offset = 0;  // floats from a key row to the value row
  int64_t kv_dim = 0;

  const float* key_row(int64_t position) const {
    return base + block_ids[position / block_size] * block_stride + layer_offset +
           (position % block_size) * kv_dim;
  }
  const float* value_row(int64_t position) const { return key_row(position) + value_offset; }
};

// Causal grouped-query attention of one sequence. Query row t sits at
// position p = first_position + t and sees cache positions 0..p:
//   s[j]        = q[t, h] . k[j, g] / sqrt(head_dim),   g = h / (n_heads / n_kv_heads)
//   out[t, h]   = sum_j softmax(s)[j] * v[j, g]
// queries and out are [rows, n_heads * head_dim]; the cache must hold
// positions up to first_position + rows - 1. Runs on OpenMP threads.
void CausalAttention(const float* queries, int64_t rows, int64_t first_position,
                     const KvLayerView& cache, const AttentionShape& shape, float* out);

// One sequence's part of a batched attention call; the fields are those of
// CausalAttention.
struct AttentionSequence {
  const float* queries = nullptr;  // [rows, n_heads * head_dim]
  int64_t rows = 0;
  int64_t first_position = 0;
  KvLayerView cache;
  float* out = nullptr;  // [rows, n_heads * head_dim]
};

// CausalAttention of several sequences in one parallel region, which costs
// one thread wake-up per layer instead of one per sequence.
void BatchedCausalAttention(const AttentionSequence* sequences, int64_t count,
                            const AttentionShape& shape);

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_COMPUTE_ATTENTION_H_
