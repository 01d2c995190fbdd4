#ifndef TEXTGEN_ENGINE_UTIL_LOGGING_H_
#define TEXTGEN_ENGINE_UTIL_LOGGING_H_

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/strings/string_view.h"

namespace textgen {

enum class LogSeverity { kInfo, kWarning, kError };

// kText writes `TIME SEVERITY message: key=value ...`, with string values
// that hold spaces, control characters, quotes, backslashes or '=' quoted as
// JSON strings. kJson writes one JSON object per line with the keys "time",
// "severity", "message" and the fields.
enum class LogFormat { kText, kJson };

// A named value on a log line: a string, an integer or a number.
class LogField {
 public:
  LogField(absl::string_view key, absl::string_view value);
  LogField(absl::string_view key, const char* value) : LogField(key, absl::string_view(value)) {}
  LogField(absl::string_view key, const std::string& value)
      : LogField(key, absl::string_view(value)) {}
  LogField(absl::string_view key, int64_t value);
  LogField(absl::string_view key, int value) : LogField(key, int64_t{value}) {}
  // Written with 2 decimals; NaN and infinities are written as null in JSON.
  LogField(absl::string_view key, double value);

  const std::string& key() const { return key_; }
  // The value as text, unquoted.
  const std::string& text() const { return text_; }
  bool is_string() const { return is_string_; }
  // The value as a JSON value: a quoted, escaped string, or a number.
  std::string Json() const;

 private:
  std::string key_;
  std::string text_;
  bool is_string_;
};

// Sets the format of every later line; kText until called.
void SetLogFormat(LogFormat format);

// Writes one line to stderr: a UTC timestamp, the severity, `message` and
// `fields`. Thread-safe: concurrent lines never interleave. Abseil 20220623
// has no logging library, so this is the project's one log sink.
void Log(LogSeverity severity, absl::string_view message,
         std::initializer_list<LogField> fields = {});

inline void LogInfo(absl::string_view message, std::initializer_list<LogField> fields = {}) {
  Log(LogSeverity::kInfo, message, fields);
}
inline void LogWarning(absl::string_view message, std::initializer_list<LogField> fields = {}) {
  Log(LogSeverity::kWarning, message, fields);
}
inline void LogError(absl::string_view message, std::initializer_list<LogField> fields = {}) {
  Log(LogSeverity::kError, message, fields);
}

// Returns `text` as a quoted JSON string. Bytes of 0x80 and above pass
// through, so valid UTF-8 stays as it is.
std::string JsonQuote(absl::string_view text);

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_UTIL_LOGGING_H_
