#ifndef TEXTGEN_SERVER_PROCESS_STATS_H_
#define TEXTGEN_SERVER_PROCESS_STATS_H_

#include "absl/status/statusor.h"

namespace textgen {

// Kernel statistics of this process, for its metrics.
struct ProcessStats {
  double resident_bytes = 0;      // physical memory in use
  double cpu_seconds = 0;         // user and system time of every thread
  double start_time_seconds = 0;  // start, in seconds since the Unix epoch
};

// Reads /proc/self/stat, /proc/self/statm and /proc/stat. Fails where /proc
// is not mounted.
absl::StatusOr<ProcessStats> ReadProcessStats();

}  // namespace textgen

#endif  // TEXTGEN_SERVER_PROCESS_STATS_H_
