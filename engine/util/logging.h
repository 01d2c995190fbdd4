#ifndef TEXTGEN_ENGINE_UTIL_LOGGING_H_
#define TEXTGEN_ENGINE_UTIL_LOGGING_H_

#include "absl/strings/string_view.h"

namespace textgen {

enum class LogSeverity { kInfo, kWarning, kError };

// Writes one line to stderr: a UTC timestamp, the severity and `message`.
// Thread-safe: concurrent lines never interleave. Abseil 20220623 has no
// logging library, so this is the project's one log sink.
void Log(LogSeverity severity, absl::string_view message);

inline void LogInfo(absl::string_view message) { Log(LogSeverity::kInfo, message); }
inline void LogWarning(absl::string_view message) { Log(LogSeverity::kWarning, message); }
inline void LogError(absl::string_view message) { Log(LogSeverity::kError, message); }

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_UTIL_LOGGING_H_
