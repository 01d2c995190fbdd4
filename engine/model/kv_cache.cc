#include "engine/model/kv_cache.h"

namespace textgen {

KvBlockPool::KvBlockPool(const KvLayout& layout, int64_t num_blocks)
    : layout_(layout),
      total_blocks_(num_blocks),
      storage_(new float[num_blocks * layout.block_floats()]),
      free_count_(num_blocks) {
  // Lowest ids on top of the stack, so a fresh pool hands out 0, 1, 2, ...
  free_list_.reserve(num_blocks);
  for (int64_t id = num_blocks - 1; id >= 0; --id) free_list_.push_back(static_cast<int32_t>(id));
}

int32_t KvBlockPool::Allocate() {
  if (free_list_.empty()) return -1;
  int32_t id = free_list_.back();
  free_list_.pop_back();
  free_count_.store(static_cast<int64_t>(free_list_.size()), std::memory_order_relaxed);
  return id;
}

void KvBlockPool::Free(int32_t block_id) {
  free_list_.push_back(block_id);
  free_count_.store(static_cast<int64_t>(free_list_.size()), std::memory_order_relaxed);
}

KvCache::KvCache(KvBlockPool* pool) : pool_(pool) {}

KvCache::KvCache(const KvLayout& layout, int64_t capacity) {
  // One block holds the whole sequence.
  KvLayout single = layout;
  single.block_size = capacity > 0 ? capacity : 1;
  owned_pool_ = std::make_unique<KvBlockPool>(single, 1);
  pool_ = owned_pool_.get();
  Reserve(capacity);
}

KvCache::~KvCache() { Release(); }

bool KvCache::Reserve(int64_t positions) {
  const int64_t block_size = pool_->layout().block_size;
  const int64_t needed = (positions + block_size - 1) / block_size - blocks();
  if (needed <= 0) return true;
  if (needed > pool_->free_blocks()) return false;
  for (int64_t i = 0; i < needed; ++i) block_ids_.push_back(pool_->Allocate());
  return true;
}

void KvCache::Release() {
  for (int32_t id : block_ids_) pool_->Free(id);
  block_ids_.clear();
}

float* KvCache::key_row(int64_t layer, int64_t position) {
  const KvLayout& layout = pool_->layout();
  return pool_->block(block_ids_[position / layout.block_size]) +
         layer * 2 * layout.block_size * layout.kv_dim +
         (position % layout.block_size) * layout.kv_dim;
}

float* KvCache::value_row(int64_t layer, int64_t position) {
  const KvLayout& layout = pool_->layout();
  return key_row(layer, position) + layout.block_size * layout.kv_dim;
}

KvLayerView KvCache::layer_view(int64_t layer) const {
  const KvLayout& layout = pool_->layout();
  KvLayerView view;
  view.base = pool_->base();
  view.block_ids = block_ids_.data();
  view.block_size = layout.block_size;
  view.block_stride = layout.block_floats();
  view.layer_offset = layer * 2 * layout.block_size * layout.kv_dim;
  view.value_offset = layout.block_size * layout.kv_dim;
  view.kv_dim = layout.kv_dim;
  return view;
}

}  // namespace textgen
