#ifndef TEXTGEN_ENGINE_MODEL_KV_CACHE_H_
#define TEXTGEN_ENGINE_MODEL_KV_CACHE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/compute/attention.h"

namespace textgen {

// The shape of a model's cached keys and values, in blocks of positions.
struct KvLayout {
  int64_t n_layers = 0;
  int64_t kv_dim = 0;      // floats per position per layer, for keys and again for values
  int64_t block_size = 0;  // positions per block

  // Floats per block: [n_layers][keys, values][block_size][kv_dim].
  int64_t block_floats() const { return n_layers * 2 * block_size * kv_dim; }
  int64_t block_bytes() const { return block_floats() * static_cast<int64_t>(sizeof(float)); }
};

// Fixed-size blocks of KV storage, reserved once and handed out as sequences
// grow. Allocate and Free are called by one thread (the engine's); the
// counts may be read from any thread.
class KvBlockPool {
 public:
  KvBlockPool(const KvLayout& layout, int64_t num_blocks);

  // Returns a free block's id, or -1 when none is left.
  int32_t Allocate();
  void Free(int32_t block_id);

  const KvLayout& layout() const { return layout_; }
  float* block(int32_t block_id) { return storage_.get() + block_id * layout_.block_floats(); }
  const float* base() const { return storage_.get(); }
  int64_t total_blocks() const { return total_blocks_; }
  int64_t free_blocks() const { return free_count_.load(std::memory_order_relaxed); }

 private:
  KvLayout layout_;
  int64_t total_blocks_;
  std::unique_ptr<float[]> storage_;  // [total_blocks, block_floats]
  std::vector<int32_t> free_list_;
  std::atomic<int64_t> free_count_;
};

// The keys and values of one sequence's positions, so each decode step
// attends to its past without recomputing it. Blocks come from a shared
// pool, or from a private pool sized for `capacity` positions.
class KvCache {
 public:
  // A cache that draws blocks from `pool`, which must outlive it.
  explicit KvCache(KvBlockPool* pool);
  // A cache with its own storage for `capacity` positions, already reserved.
  KvCache(const KvLayout& layout, int64_t capacity);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // Makes room for positions 0..positions-1. Returns false, allocating
  // nothing, when the pool has too few free blocks.
  bool Reserve(int64_t positions);
  // Returns every block to the pool.
  void Release();

  // The number of positions the reserved blocks hold.
  int64_t capacity() const {
    return static_cast<int64_t>(block_ids_.size()) * pool_->layout().block_size;
  }
  int64_t blocks() const { return static_cast<int64_t>(block_ids_.size()); }

  // [kv_dim] key and value rows of `layer` at `position` < capacity().
  float* key_row(int64_t layer, int64_t position);
  float* value_row(int64_t layer, int64_t position);

  // Where attention reads `layer`'s keys and values.
  KvLayerView layer_view(int64_t layer) const;

 private:
  std::unique_ptr<KvBlockPool> owned_pool_;
  KvBlockPool* pool_;
  std::vector<int32_t> block_ids_;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_MODEL_KV_CACHE_H_
