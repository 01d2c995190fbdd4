#include "engine/model/kv_cache.h"

namespace textgen {

KvCache::KvCache(int64_t n_layers, int64_t capacity, int64_t kv_dim)
    : capacity_(capacity),
      kv_dim_(kv_dim),
      keys_(n_layers * capacity * kv_dim),
      values_(n_layers * capacity * kv_dim) {}

}  // namespace textgen
