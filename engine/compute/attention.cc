#include "engine/compute/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/compute/softmax.h"

namespace textgen {

namespace {

// Calls visit(j, key_row, value_row) for cache positions 0..visible-1 in
// order, walking block by block so that no position needs a division.
template <typename Visit>
void ForEachPosition(const KvLayerView& cache, int64_t visible, int64_t kv_offset, Visit visit) {
  int64_t j = 0;
  for (int64_t block = 0; j < visible; ++block) {
    const float* key = cache.base + cache.block_ids[block] * cache.block_stride +
                       cache.layer_offset + kv_offset;
    const int64_t end = std::min(visible, j + cache.block_size);
    for (; j < end; ++j, key += cache.kv_dim) visit(j, key, key + cache.value_offset);
  }
}

// Attention of one query head at one position over cache positions
// 0..visible-1; `scores` has room for `visible` floats.
void AttendOneHead(const float* q, int64_t visible, const KvLayerView& cache, int64_t kv_offset,
                   int64_t head_dim, float* scores, float* out) {
  // Divides rather than multiplies by 1/sqrt, as llama2.c does.
  const float sqrt_head_dim = std::sqrt(static_cast<float>(head_dim));

  // Scores against every visible key. The SIMD reduction fixes the
  // summation order by head_dim alone, so results do not depend on the
  // batch or the thread.
  ForEachPosition(cache, visible, kv_offset, [&](int64_t j, const float* k, const float*) {
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t i = 0; i < head_dim; ++i) dot += q[i] * k[i];
    scores[j] = dot / sqrt_head_dim;
  });

  Softmax(scores, visible);

  // Weighted sum of the values.
  std::memset(out, 0, sizeof(float) * head_dim);
  ForEachPosition(cache, visible, kv_offset, [&](int64_t j, const float*, const float* v) {
    const float weight = scores[j];
#pragma omp simd
    for (int64_t i = 0; i < head_dim; ++i) out[i] += weight * v[i];
  });
}

}  // namespace

void CausalAttention(const float* queries, int64_t rows, int64_t first_position,
                     const KvLayerView& cache, const AttentionShape& shape, float* out) {
  const AttentionSequence sequence{queries, rows, first_position, cache, out};
  BatchedCausalAttention(&sequence, 1, shape);
}

void BatchedCausalAttention(const AttentionSequence* sequences, int64_t count,
                            const AttentionShape& shape) {
  const int64_t q_dim = shape.n_heads * shape.head_dim;
  const int64_t group_size = shape.n_heads / shape.n_kv_heads;

  // Every (sequence, row, head) triple is independent; threads split them.
  // first_task[s] is the index of sequence s's first triple.
  std::vector<int64_t> first_task(count + 1, 0);
  int64_t longest = 0;
  int64_t multiply_adds = 0;
  for (int64_t s = 0; s < count; ++s) {
    const AttentionSequence& sequence = sequences[s];
    first_task[s + 1] = first_task[s] + sequence.rows * shape.n_heads;
    longest = std::max(longest, sequence.first_position + sequence.rows);
    multiply_adds += 2 * sequence.rows * shape.n_heads * shape.head_dim *
                     (sequence.first_position + sequence.rows);
  }

  // Waking a second thread costs microseconds, more than a small model's
  // attention over a short context takes alone. The threshold is a rough
  // estimate of where threads start to pay off on this CPU.
  constexpr int64_t kParallelMultiplyAdds = 1 << 16;
#pragma omp parallel if (multiply_adds >= kParallelMultiplyAdds)
  {
    std::vector<float> scores(longest);
    int64_t s = 0;
#pragma omp for schedule(static)
    for (int64_t task = 0; task < first_task[count]; ++task) {
      while (task >= first_task[s + 1]) ++s;
      while (task < first_task[s]) --s;
      const AttentionSequence& sequence = sequences[s];
      const int64_t local = task - first_task[s];
      const int64_t t = local / shape.n_heads;
      const int64_t h = local % shape.n_heads;
      AttendOneHead(sequence.queries + t * q_dim + h * shape.head_dim,
                    sequence.first_position + t + 1, sequence.cache,
                    (h / group_size) * shape.head_dim, shape.head_dim, scores.data(),
                    sequence.out + t * q_dim + h * shape.head_dim);
    }
  }
}

}  // namespace textgen
