#ifndef TEXTGEN_ENGINE_MODEL_KV_CACHE_H_
#define TEXTGEN_ENGINE_MODEL_KV_CACHE_H_

#include <cstdint>
#include <vector>

namespace textgen {

// The keys and values of one sequence's past positions, so that each decode
// step computes attention without recomputing them.
class KvCache {
 public:
  KvCache(int64_t n_layers, int64_t capacity, int64_t kv_dim);

  // [capacity, kv_dim] keys of `layer`, one row per position.
  float* keys(int64_t layer) { return keys_.data() + layer * capacity_ * kv_dim_; }
  // [capacity, kv_dim] values of `layer`, one row per position.
  float* values(int64_t layer) { return values_.data() + layer * capacity_ * kv_dim_; }

  // The number of positions this cache can hold.
  int64_t capacity() const { return capacity_; }

 private:
  int64_t capacity_;
  int64_t kv_dim_;
  std::vector<float> keys_;    // [n_layers, capacity, kv_dim]
  std::vector<float> values_;  // [n_layers, capacity, kv_dim]
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_MODEL_KV_CACHE_H_
