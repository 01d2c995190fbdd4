// The progress display of textgen-bench on stderr: a bar redrawn in place
// when stderr is a terminal, otherwise a line every few seconds.

#ifndef TEXTGEN_CLIENT_BENCH_PROGRESS_H_
#define TEXTGEN_CLIENT_BENCH_PROGRESS_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace textgen::bench {

// Counters of a running level that the workers update and the display reads.
struct LevelCounters {
  std::atomic<int64_t> completed{0};
  std::atomic<int64_t> failed{0};
  // Token ids received in chunks so far, including those of failed calls.
  std::atomic<int64_t> streamed_tokens{0};
};

// The end condition of a level and its name on the display.
struct ProgressTarget {
  // For example "level 2/3  concurrency 4".
  std::string label;
  // Exactly one of these is set.
  std::optional<int64_t> requests;
  std::optional<double> duration_seconds;
};

// One reading of a level's progress.
struct ProgressSnapshot {
  int64_t completed = 0;
  int64_t failed = 0;
  int64_t streamed_tokens = 0;
  double elapsed_seconds = 0;
};

// Formats the bar that a terminal shows, without line control characters.
std::string FormatProgressBar(const ProgressTarget& target,
                              const ProgressSnapshot& snapshot);

// Formats the line that a log file or pipe gets.
std::string FormatProgressLine(const ProgressTarget& target,
                               const ProgressSnapshot& snapshot);

// Draws the progress of one level on stderr from a thread of its own, from
// construction until destruction, which clears the bar.
class ProgressDisplay {
 public:
  // `counters` must outlive the display. `terminal` selects the bar.
  ProgressDisplay(ProgressTarget target, const LevelCounters* counters,
                  bool terminal);
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;
  ~ProgressDisplay();

 private:
  void Run();
  ProgressSnapshot TakeSnapshot() const;

  const ProgressTarget target_;
  const LevelCounters* const counters_;
  const bool terminal_;
  const std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace textgen::bench

#endif  // TEXTGEN_CLIENT_BENCH_PROGRESS_H_
