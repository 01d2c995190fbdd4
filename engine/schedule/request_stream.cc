#include "engine/schedule/request_stream.h"

#include <utility>

namespace textgen {

void RequestStream::Append(const GenerationOutput& output) {
  absl::MutexLock lock(&mutex_);
  if (output.token_id >= 0) pending_.token_ids.push_back(output.token_id);
  if (output.logprob.has_value()) pending_.logprobs.push_back(*output.logprob);
  pending_.text += output.text;
}

void RequestStream::Finish(const GenerationResult& result) {
  absl::MutexLock lock(&mutex_);
  result_ = result;
}

bool RequestStream::cancelled() const {
  absl::MutexLock lock(&mutex_);
  return cancelled_;
}

RequestStream::Update RequestStream::Wait(absl::Time deadline) {
  absl::MutexLock lock(&mutex_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return !pending_.empty() || (result_.has_value() && !result_taken_);
  };
  mutex_.AwaitWithDeadline(absl::Condition(&ready), deadline);

  Update update;
  update.chunk = std::exchange(pending_, Chunk{});
  // The result follows the last output, so it is handed over only once
  // everything before it has been taken.
  if (result_.has_value() && !result_taken_) {
    update.result = result_;
    result_taken_ = true;
  }
  return update;
}

void RequestStream::Cancel() {
  absl::MutexLock lock(&mutex_);
  cancelled_ = true;
}

}  // namespace textgen
