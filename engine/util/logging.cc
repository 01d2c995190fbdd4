#include "engine/util/logging.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace textgen {
namespace {

std::atomic<LogFormat> log_format{LogFormat::kText};

const char* SeverityName(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kInfo: return "INFO";
    case LogSeverity::kWarning: return "WARNING";
    case LogSeverity::kError: return "ERROR";
  }
  return "INFO";
}

// True when a string value would be ambiguous on a text line unquoted:
// empty, or holding a space, a control character, a quote, a backslash or
// '='. Values from clients, such as request ids, could otherwise forge lines
// or fields.
bool NeedsQuotes(absl::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= ' ' || byte == 0x7f || c == '"' || c == '\\' || c == '=') return true;
  }
  return false;
}

// TIME SEVERITY message: key=value key="quoted value"
std::string TextLine(absl::string_view time, LogSeverity severity, absl::string_view message,
                     std::initializer_list<LogField> fields) {
  std::string line = absl::StrCat(time, " ", SeverityName(severity), " ", message);
  const char* separator = ": ";
  for (const LogField& field : fields) {
    absl::StrAppend(&line, separator, field.key(), "=",
                    field.is_string() && NeedsQuotes(field.text()) ? JsonQuote(field.text())
                                                                   : field.text());
    separator = " ";
  }
  return line;
}

// {"time":...,"severity":...,"message":...,"key":value,...}
std::string JsonLine(absl::string_view time, LogSeverity severity, absl::string_view message,
                     std::initializer_list<LogField> fields) {
  std::string line = absl::StrCat("{\"time\":", JsonQuote(time),
                                  ",\"severity\":", JsonQuote(SeverityName(severity)),
                                  ",\"message\":", JsonQuote(message));
  for (const LogField& field : fields) {
    absl::StrAppend(&line, ",", JsonQuote(field.key()), ":", field.Json());
  }
  line += '}';
  return line;
}

}  // namespace

LogField::LogField(absl::string_view key, absl::string_view value)
    : key_(key), text_(value), is_string_(true) {}

LogField::LogField(absl::string_view key, int64_t value)
    : key_(key), text_(absl::StrCat(value)), is_string_(false) {}

LogField::LogField(absl::string_view key, double value)
    : key_(key), text_(absl::StrFormat("%.2f", value)), is_string_(false) {
  if (!std::isfinite(value)) text_ = "null";
}

std::string LogField::Json() const { return is_string_ ? JsonQuote(text_) : text_; }

std::string JsonQuote(absl::string_view text) {
  std::string quoted = "\"";
  for (char c : text) {
    switch (c) {
      case '"': quoted += "\\\""; break;
      case '\\': quoted += "\\\\"; break;
      case '\n': quoted += "\\n"; break;
      case '\r': quoted += "\\r"; break;
      case '\t': quoted += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&quoted, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          quoted += c;
        }
    }
  }
  quoted += '"';
  return quoted;
}

void SetLogFormat(LogFormat format) { log_format.store(format); }

void Log(LogSeverity severity, absl::string_view message,
         std::initializer_list<LogField> fields) {
  static absl::Mutex mutex(absl::kConstInit);
  const std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line = log_format.load() == LogFormat::kJson
                         ? JsonLine(time, severity, message, fields)
                         : TextLine(time, severity, message, fields);
  line += '\n';

  absl::MutexLock lock(&mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace textgen
