#include "engine/compute/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace textgen {
namespace {

std::vector<float> RandomValues(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(n);
  for (float& v : values) v = uniform(rng);
  return values;
}

// Masked attention written as whole matrices: S = Q K^T / sqrt(d) with -inf
// above the diagonal, P = softmax(S) per row, O = P V, in double.
std::vector<double> ReferenceAttention(const std::vector<float>& queries, int64_t rows,
                                       int64_t first_position, const std::vector<float>& keys,
                                       const std::vector<float>& values,
                                       const AttentionShape& shape) {
  const int64_t q_dim = shape.n_heads * shape.head_dim;
  const int64_t kv_dim = shape.n_kv_heads * shape.head_dim;
  const int64_t positions = first_position + rows;
  std::vector<double> out(rows * q_dim, 0.0);
  for (int64_t h = 0; h < shape.n_heads; ++h) {
    const int64_t g = h * shape.n_kv_heads / shape.n_heads;
    for (int64_t t = 0; t < rows; ++t) {
      std::vector<double> s(positions);
      for (int64_t j = 0; j < positions; ++j) {
        if (j > first_position + t) {
          s[j] = -std::numeric_limits<double>::infinity();
          continue;
        }
        double dot = 0.0;
        for (int64_t i = 0; i < shape.head_dim; ++i) {
          dot += double{queries[t * q_dim + h * shape.head_dim + i]} *
                 keys[j * kv_dim + g * shape.head_dim + i];
        }
        s[j] = dot / std::sqrt(static_cast<double>(shape.head_dim));
      }
      double max_s = s[0], total = 0.0;
      for (double v : s) max_s = std::max(max_s, v);
      for (double& v : s) total += (v = std::exp(v - max_s));
      for (int64_t j = 0; j < positions; ++j) {
        for (int64_t i = 0; i < shape.head_dim; ++i) {
          out[t * q_dim + h * shape.head_dim + i] +=
              s[j] / total * values[j * kv_dim + g * shape.head_dim + i];
        }
      }
    }
  }
  return out;
}

// Copies contiguous keys and values [positions, kv_dim] into a paged cache
// of one layer with blocks of `block_size` positions, placed in the storage
// in reverse order so that block ids and storage order differ.
struct PagedCache {
  PagedCache(const std::vector<float>& keys, const std::vector<float>& values, int64_t kv_dim,
             int64_t block_size) {
    const int64_t positions = static_cast<int64_t>(keys.size()) / kv_dim;
    const int64_t blocks = (positions + block_size - 1) / block_size;
    storage.assign(blocks * 2 * block_size * kv_dim, NAN);
    for (int64_t b = 0; b < blocks; ++b) block_ids.push_back(static_cast<int32_t>(blocks - 1 - b));
    view.base = storage.data();
    view.block_ids = block_ids.data();
    view.block_size = block_size;
    view.block_stride = 2 * block_size * kv_dim;
    view.layer_offset = 0;
    view.value_offset = block_size * kv_dim;
    view.kv_dim = kv_dim;
    for (int64_t p = 0; p < positions; ++p) {
      float* key = const_cast<float*>(view.key_row(p));
      float* value = const_cast<float*>(view.value_row(p));
      for (int64_t i = 0; i < kv_dim; ++i) {
        key[i] = keys[p * kv_dim + i];
        value[i] = values[p * kv_dim + i];
      }
    }
  }

  std::vector<float> storage;
  std::vector<int32_t> block_ids;
  KvLayerView view;
};

struct AttentionCase {
  int64_t rows;
  int64_t first_position;
  AttentionShape shape;
  int64_t block_size;
};

class CausalAttentionTest : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(CausalAttentionTest, MatchesMaskedMatrixForm) {
  const AttentionCase c = GetParam();
  const int64_t q_dim = c.shape.n_heads * c.shape.head_dim;
  const int64_t kv_dim = c.shape.n_kv_heads * c.shape.head_dim;
  const int64_t positions = c.first_position + c.rows;
  std::vector<float> queries = RandomValues(c.rows * q_dim, 1);
  std::vector<float> keys = RandomValues(positions * kv_dim, 2);
  std::vector<float> values = RandomValues(positions * kv_dim, 3);
  std::vector<float> out(c.rows * q_dim, NAN);

  PagedCache cache(keys, values, kv_dim, c.block_size);
  CausalAttention(queries.data(), c.rows, c.first_position, cache.view, c.shape, out.data());

  std::vector<double> expected =
      ReferenceAttention(queries, c.rows, c.first_position, keys, values, c.shape);
  for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], expected[i], 1e-5) << "index " << i;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CausalAttentionTest,
    ::testing::Values(AttentionCase{1, 0, {1, 1, 8}, 16},    // first token sees only itself
                      AttentionCase{5, 0, {8, 4, 8}, 64},    // prefill with grouped-query heads
                      AttentionCase{1, 40, {8, 4, 8}, 16},   // decode step over three blocks
                      AttentionCase{7, 20, {4, 1, 16}, 4},   // chunk after a cached prefix
                      AttentionCase{3, 2, {6, 6, 4}, 1},     // one position per block
                      AttentionCase{9, 30, {8, 2, 8}, 7}));  // blocks that do not divide 64

TEST(CausalAttentionFutureTest, LaterKeysDoNotChangeEarlierRows) {
  const AttentionShape shape{2, 1, 4};
  std::vector<float> queries = RandomValues(3 * 8, 4);
  std::vector<float> keys = RandomValues(3 * 4, 5);
  std::vector<float> values = RandomValues(3 * 4, 6);
  std::vector<float> first(3 * 8), second(3 * 8);

  PagedCache before(keys, values, 4, 2);
  CausalAttention(queries.data(), 3, 0, before.view, shape, first.data());
  // Change the last position's key and value: rows 0 and 1 cannot see it.
  for (int i = 8; i < 12; ++i) keys[i] = values[i] = 100.0f;
  PagedCache after(keys, values, 4, 2);
  CausalAttention(queries.data(), 3, 0, after.view, shape, second.data());

  for (int i = 0; i < 16; ++i) EXPECT_EQ(first[i], second[i]) << "index " << i;
  EXPECT_NE(first[16], second[16]);
}

}  // namespace
}  // namespace textgen
