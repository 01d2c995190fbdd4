#ifndef TEXTGEN_TESTS_ENGINE_GATE_H_
#define TEXTGEN_TESTS_ENGINE_GATE_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/schedule/scheduler.h"

namespace textgen::testing {

// Holds the scheduler's engine thread after a step while closed, so a test
// can fill the queue while a request is known to be running. Install with
// Observer() as SchedulerOptions::step_observer; the gate must outlive the
// scheduler.
class EngineGate {
 public:
  std::function<void(const StepReport&)> Observer() {
    return [this](const StepReport&) {
      absl::MutexLock lock(&mutex_);
      ++steps_;
      mutex_.Await(absl::Condition(&open_));
    };
  }

  void Close() {
    absl::MutexLock lock(&mutex_);
    open_ = false;
  }

  void Open() {
    absl::MutexLock lock(&mutex_);
    open_ = true;
  }

  // Waits until the engine has finished at least one step since the gate
  // closed; false after 30 seconds.
  bool WaitForStep() {
    absl::MutexLock lock(&mutex_);
    auto stepped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return steps_ > 0; };
    return mutex_.AwaitWithTimeout(absl::Condition(&stepped), absl::Seconds(30));
  }

 private:
  absl::Mutex mutex_;
  bool open_ ABSL_GUARDED_BY(mutex_) = true;
  int64_t steps_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace textgen::testing

#endif  // TEXTGEN_TESTS_ENGINE_GATE_H_
