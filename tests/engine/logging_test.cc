#include "engine/util/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "nlohmann/json.hpp"

namespace textgen {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;

// Returns what one Log call writes to stderr in `format`.
std::string LogLine(LogFormat format, std::initializer_list<LogField> fields) {
  SetLogFormat(format);
  ::testing::internal::CaptureStderr();
  LogInfo("request finished", fields);
  std::string line = ::testing::internal::GetCapturedStderr();
  SetLogFormat(LogFormat::kText);
  return line;
}

TEST(LoggingTest, TextFieldsFollowTheMessage) {
  const std::string line = LogLine(LogFormat::kText, {{"id", "call-7"}, {"tokens", 12}});
  EXPECT_THAT(line, HasSubstr(" INFO request finished: id=call-7 tokens=12"));
  EXPECT_THAT(line, EndsWith("\n"));
}

TEST(LoggingTest, TextQuotesValuesThatCouldForgeFields) {
  // A client-chosen id with a newline, spaces and '=' must stay one field of
  // one line.
  const std::string line =
      LogLine(LogFormat::kText, {{"id", "x\nINFO forged finish_reason=EOS"}, {"tokens", 3}});
  EXPECT_THAT(line, HasSubstr(R"(id="x\nINFO forged finish_reason=EOS" tokens=3)"));
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(LoggingTest, TextQuotesEmptyValues) {
  EXPECT_THAT(LogLine(LogFormat::kText, {{"id", ""}}), HasSubstr(R"(id="")"));
}

TEST(LoggingTest, JsonLineParsesWithEveryField) {
  const std::string line = LogLine(
      LogFormat::kJson,
      {{"id", "引号\"\\\x01"}, {"tokens", 12}, {"ttft_ms", 1.5}, {"missing", std::nan("")}});
  const nlohmann::json entry = nlohmann::json::parse(line);
  EXPECT_EQ(entry["severity"], "INFO");
  EXPECT_EQ(entry["message"], "request finished");
  EXPECT_EQ(entry["id"], "引号\"\\\x01");
  EXPECT_EQ(entry["tokens"], 12);
  EXPECT_DOUBLE_EQ(entry["ttft_ms"].get<double>(), 1.5);
  EXPECT_TRUE(entry["missing"].is_null());
}

}  // namespace
}  // namespace textgen
