#ifndef TEXTGEN_ENGINE_SCHEDULE_SCHEDULER_H_
#define TEXTGEN_ENGINE_SCHEDULE_SCHEDULER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/generate/sequence.h"
#include "engine/model/kv_cache.h"
#include "engine/model/model.h"
#include "engine/schedule/request_stream.h"
#include "engine/tokenizer/tokenizer.h"

namespace textgen {

// The scheduler's report on one step, for metrics.
struct StepReport {
  int64_t tokens = 0;     // rows of the step's forward pass
  int64_t sequences = 0;  // sequences in it
  absl::Duration duration;  // the forward pass and the sampling after it
};

struct SchedulerOptions {
  int32_t max_running = 16;     // sequences in one step at most
  int32_t max_waiting = 64;     // queued requests at most; beyond, Submit fails at once
  int64_t prefill_chunk = 256;  // prompt tokens one step takes, over all sequences
  int64_t kv_cache_bytes = int64_t{512} << 20;  // reserved once at start
  int64_t kv_block_size = 16;   // positions per KV-cache block
  // Observers for metrics, called on the engine thread; each may be empty.
  // After every step:
  std::function<void(const StepReport&)> step_observer;
  // When a request leaves the queue for its first step, with the time it
  // waited:
  std::function<void(absl::Duration)> queue_observer;
  // For every generated token after a sequence's first, with the time since
  // the sequence's previous token:
  std::function<void(absl::Duration)> token_interval_observer;
};

// Continuous batching. One engine thread runs steps; each step admits queued
// requests, runs one forward pass over the next token of every decoding
// sequence and a chunk of every prefilling one (every matmul with M = the
// step's tokens), samples each sequence with its own sampler, and passes
// outputs to each request's RequestStream. A new request joins at the next
// step and a finished one leaves at once.
//
// KV-cache memory is reserved once and handed out in blocks as sequences
// grow. When it runs out, new requests wait. When a running sequence cannot
// grow, the most recently admitted other sequence is preempted. Its blocks
// are freed and it goes back to the front of the queue, to be recomputed
// from its tokens when blocks are free again. Its sampler and detokenizer
// keep their state, so its output continues unchanged. A sequence that
// cannot grow even alone ends with LENGTH.
class Scheduler {
 public:
  // `model` and `tokenizer` must outlive the scheduler. Starts the engine
  // thread.
  Scheduler(Model& model, const Tokenizer& tokenizer, std::vector<int32_t> end_of_sequence_ids,
            const SchedulerOptions& options);
  // Cancels what is still queued or running and stops the engine thread.
  ~Scheduler();

  // Ends every queued and running request at the next step with
  // FINISH_REASON_CANCELLED, as a server shutdown does after its drain time.
  // Later submissions still run.
  void CancelAll();

  // Queues a request and returns the stream its output arrives on.
  // RESOURCE_EXHAUSTED when the queue is full or the prompt cannot fit the
  // KV cache at all.
  absl::StatusOr<std::shared_ptr<RequestStream>> Submit(GenerationRequest request);

  int64_t running() const { return running_count_.load(); }
  int64_t waiting() const { return waiting_count_.load(); }
  int64_t kv_blocks_total() const { return pool_.total_blocks(); }
  int64_t kv_blocks_used() const { return pool_.total_blocks() - pool_.free_blocks(); }
  // Sequences preempted so far because the KV cache was full.
  int64_t preemptions() const { return preemptions_.load(); }

 private:
  struct Entry {
    std::unique_ptr<Sequence> sequence;
    std::shared_ptr<RequestStream> stream;
    std::unique_ptr<KvCache> cache;
    absl::Time submitted;
    absl::Time last_token = absl::InfinitePast();  // when it last produced a token
  };

  void Loop();
  // Moves queued entries into the running set while there is room.
  void Admit();
  // Picks the rows of the next step; returns how many tokens each running
  // entry contributes (0 for none).
  std::vector<int64_t> PlanStep();
  // Makes room in `entry`'s cache for `tokens` more positions, preempting
  // later entries if needed. False when it cannot.
  bool Grow(size_t index, int64_t tokens);
  void Preempt(size_t index);
  void RunStep(const std::vector<int64_t>& plan);
  // Records that `entry` sampled a token at `now`, for the token interval
  // observer.
  void ObserveToken(Entry& entry, absl::Time now);
  void FinishEntry(Entry& entry, FinishReason reason);
  void DropCancelled();
  void UpdateCounts();

  Model& model_;
  const Tokenizer& tokenizer_;
  const std::vector<int32_t> end_of_sequence_ids_;
  const SchedulerOptions options_;
  KvBlockPool pool_;

  absl::Mutex mutex_;
  std::deque<Entry> queue_ ABSL_GUARDED_BY(mutex_);  // submitted, not running
  // Preempted sequences, admitted before the queue, oldest first.
  std::deque<Entry> preempted_ ABSL_GUARDED_BY(mutex_);
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  bool cancel_all_ ABSL_GUARDED_BY(mutex_) = false;

  // Engine-thread state.
  std::vector<Entry> running_;   // in admission order
  std::vector<float> logits_;    // [max_running, vocab_size]
  bool last_step_prefill_only_ = false;

  std::atomic<int64_t> running_count_{0};
  std::atomic<int64_t> waiting_count_{0};
  std::atomic<int64_t> preemptions_{0};
  std::thread thread_;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_SCHEDULE_SCHEDULER_H_
