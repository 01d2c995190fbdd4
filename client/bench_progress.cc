#include "client/bench_progress.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/str_format.h"

namespace textgen::bench {
namespace {

constexpr int kBarWidth = 20;
constexpr std::chrono::milliseconds kTerminalInterval(200);
constexpr std::chrono::seconds kLogInterval(5);

double TokensPerSecond(const ProgressSnapshot& snapshot) {
  if (snapshot.elapsed_seconds <= 0) return 0;
  return snapshot.streamed_tokens / snapshot.elapsed_seconds;
}

// Returns the finished fraction of the level, from 0 to 1.
double FinishedFraction(const ProgressTarget& target,
                        const ProgressSnapshot& snapshot) {
  double fraction = 0;
  if (target.requests.has_value() && *target.requests > 0) {
    fraction = static_cast<double>(snapshot.completed) / *target.requests;
  } else if (target.duration_seconds.has_value() &&
             *target.duration_seconds > 0) {
    fraction = snapshot.elapsed_seconds / *target.duration_seconds;
  }
  return std::clamp(fraction, 0.0, 1.0);
}

// Returns "16/32 requests" or "12.0/30 s, 57 requests".
std::string FormatCount(const ProgressTarget& target,
                        const ProgressSnapshot& snapshot) {
  if (target.requests.has_value()) {
    return absl::StrFormat("%d/%d requests", snapshot.completed,
                           *target.requests);
  }
  return absl::StrFormat("%.1f/%g s, %d requests", snapshot.elapsed_seconds,
                         target.duration_seconds.value_or(0),
                         snapshot.completed);
}

}  // namespace

std::string FormatProgressBar(const ProgressTarget& target,
                              const ProgressSnapshot& snapshot) {
  const int filled =
      static_cast<int>(FinishedFraction(target, snapshot) * kBarWidth);
  const std::string bar =
      std::string(filled, '#') + std::string(kBarWidth - filled, '-');
  return absl::StrFormat("%s  [%s]  %s  %.1f tokens/s  %d errors", target.label,
                         bar, FormatCount(target, snapshot),
                         TokensPerSecond(snapshot), snapshot.failed);
}

std::string FormatProgressLine(const ProgressTarget& target,
                               const ProgressSnapshot& snapshot) {
  return absl::StrFormat("textgen-bench: %s  %s  %.1f tokens/s  %d errors",
                         target.label, FormatCount(target, snapshot),
                         TokensPerSecond(snapshot), snapshot.failed);
}

ProgressDisplay::ProgressDisplay(ProgressTarget target,
                                 const LevelCounters* counters, bool terminal)
    : target_(std::move(target)),
      counters_(counters),
      terminal_(terminal),
      start_(std::chrono::steady_clock::now()),
      thread_(&ProgressDisplay::Run, this) {}

ProgressDisplay::~ProgressDisplay() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  stop_requested_.notify_one();
  thread_.join();
  // Erases the bar so that the level's report starts on a clean line.
  if (terminal_) std::fputs("\r\033[K", stderr);
}

void ProgressDisplay::Run() {
  const std::chrono::milliseconds interval =
      terminal_ ? kTerminalInterval : kLogInterval;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_requested_.wait_for(lock, interval, [this] { return stop_; })) {
    const ProgressSnapshot snapshot = TakeSnapshot();
    if (terminal_) {
      std::fprintf(stderr, "\r\033[K%s",
                   FormatProgressBar(target_, snapshot).c_str());
    } else {
      std::fprintf(stderr, "%s\n",
                   FormatProgressLine(target_, snapshot).c_str());
    }
    std::fflush(stderr);
  }
}

ProgressSnapshot ProgressDisplay::TakeSnapshot() const {
  ProgressSnapshot snapshot;
  snapshot.completed = counters_->completed.load();
  snapshot.failed = counters_->failed.load();
  snapshot.streamed_tokens = counters_->streamed_tokens.load();
  snapshot.elapsed_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  return snapshot;
}

}  // namespace textgen::bench
