#include "engine/util/logging.h"

#include <cstdio>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace textgen {
namespace {

const char* SeverityName(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kInfo: return "INFO";
    case LogSeverity::kWarning: return "WARNING";
    case LogSeverity::kError: return "ERROR";
  }
  return "INFO";
}

}  // namespace

void Log(LogSeverity severity, absl::string_view message) {
  static absl::Mutex mutex(absl::kConstInit);
  std::string line = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  line += ' ';
  line += SeverityName(severity);
  line += ' ';
  line.append(message.data(), message.size());
  line += '\n';
  absl::MutexLock lock(&mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace textgen
