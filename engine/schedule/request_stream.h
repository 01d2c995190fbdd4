#ifndef TEXTGEN_ENGINE_SCHEDULE_REQUEST_STREAM_H_
#define TEXTGEN_ENGINE_SCHEDULE_REQUEST_STREAM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/generate/sequence.h"

namespace textgen {

// Hands one request's output from the engine thread to the thread that sends
// it to the client. The engine never blocks here: output that the consumer
// has not taken yet accumulates, so a slow reader receives it coalesced into
// fewer, larger chunks while the engine keeps going.
class RequestStream {
 public:
  // Output not yet taken by the consumer.
  struct Chunk {
    std::vector<int32_t> token_ids;
    std::string text;
    // With SamplingParams::logprobs: one per token id, in the same order.
    std::vector<TokenLogprob> logprobs;
    bool empty() const { return token_ids.empty() && text.empty(); }
  };

  // The result of Wait: the pending output, and the result once the request
  // has finished (after which nothing more arrives).
  struct Update {
    Chunk chunk;
    std::optional<GenerationResult> result;
  };

  // Engine side. Append and Finish never block on the consumer.
  void Append(const GenerationOutput& output);
  void Finish(const GenerationResult& result);
  // True once the consumer cancelled; the engine then drops the request at
  // its next step.
  bool cancelled() const;

  // Consumer side. Waits until output is pending, the request has finished,
  // or `deadline` passes, and takes what is pending.
  Update Wait(absl::Time deadline);
  void Cancel();

 private:
  mutable absl::Mutex mutex_;
  Chunk pending_ ABSL_GUARDED_BY(mutex_);
  std::optional<GenerationResult> result_ ABSL_GUARDED_BY(mutex_);
  bool result_taken_ ABSL_GUARDED_BY(mutex_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_SCHEDULE_REQUEST_STREAM_H_
