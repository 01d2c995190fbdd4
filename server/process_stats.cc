#include "server/process_stats.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace textgen {
namespace {

absl::StatusOr<std::string> ReadFile(const char* path) {
  std::ifstream file(path);
  if (!file) return absl::UnavailableError(absl::StrCat("cannot read ", path));
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// The fields of /proc/self/stat after the command name, which is in
// parentheses and may itself hold spaces: fields[0] is field 3, the state.
absl::StatusOr<std::vector<std::string>> StatFieldsAfterName() {
  absl::StatusOr<std::string> stat = ReadFile("/proc/self/stat");
  if (!stat.ok()) return stat.status();
  const size_t name_end = stat->rfind(')');
  if (name_end == std::string::npos) {
    return absl::DataLossError("/proc/self/stat has no command name in parentheses");
  }
  return absl::StrSplit(absl::string_view(*stat).substr(name_end + 1), ' ', absl::SkipEmpty());
}

// The system's boot time in seconds since the epoch, the "btime" line of /proc/stat.
absl::StatusOr<double> BootTime() {
  absl::StatusOr<std::string> stat = ReadFile("/proc/stat");
  if (!stat.ok()) return stat.status();
  for (absl::string_view line : absl::StrSplit(*stat, '\n')) {
    double seconds = 0;
    if (absl::ConsumePrefix(&line, "btime ") && absl::SimpleAtod(line, &seconds)) return seconds;
  }
  return absl::DataLossError("/proc/stat has no btime line");
}

}  // namespace

absl::StatusOr<ProcessStats> ReadProcessStats() {
  absl::StatusOr<std::vector<std::string>> fields = StatFieldsAfterName();
  if (!fields.ok()) return fields.status();
  // Fields 14 and 15 (utime, stime) and 22 (starttime), counted from 1, in
  // clock ticks; fields[0] is field 3.
  constexpr size_t kUtime = 14 - 3, kStime = 15 - 3, kStartTime = 22 - 3;
  double utime = 0, stime = 0, start_ticks = 0;
  if (fields->size() <= kStartTime || !absl::SimpleAtod((*fields)[kUtime], &utime) ||
      !absl::SimpleAtod((*fields)[kStime], &stime) ||
      !absl::SimpleAtod((*fields)[kStartTime], &start_ticks)) {
    return absl::DataLossError("/proc/self/stat has fewer fields than expected");
  }

  // /proc/self/statm: size, then resident pages.
  absl::StatusOr<std::string> statm = ReadFile("/proc/self/statm");
  if (!statm.ok()) return statm.status();
  std::vector<absl::string_view> pages = absl::StrSplit(*statm, ' ');
  double resident_pages = 0;
  if (pages.size() < 2 || !absl::SimpleAtod(pages[1], &resident_pages)) {
    return absl::DataLossError("/proc/self/statm has no resident page count");
  }

  absl::StatusOr<double> boot_time = BootTime();
  if (!boot_time.ok()) return boot_time.status();

  const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  ProcessStats stats;
  stats.resident_bytes = resident_pages * static_cast<double>(sysconf(_SC_PAGESIZE));
  stats.cpu_seconds = (utime + stime) / ticks_per_second;
  stats.start_time_seconds = *boot_time + start_ticks / ticks_per_second;
  return stats;
}

}  // namespace textgen
