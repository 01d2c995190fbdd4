#include "client/bench_command_line.h"

#include <limits>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace textgen::bench {
namespace {

// The help flags of Abseil 20220623, which absl::ParseCommandLine handles
// without defining them as flags.
constexpr absl::string_view kUsageFlagNames[] = {
    "help",    "helpfull",        "helpshort", "helppackage",
    "version", "only_check_args", "helpon",    "helpmatch"};

bool IsUsageFlag(absl::string_view name) {
  for (const absl::string_view usage_flag : kUsageFlagNames) {
    if (name == usage_flag) return true;
  }
  return false;
}

// Returns `name` as users type it, with dashes: "--max-new-tokens".
std::string DisplayName(absl::string_view name) {
  return absl::StrCat("--", absl::StrReplaceAll(name, {{"_", "-"}}));
}

// Returns whether `name` is "no" followed by the name of a bool flag, which
// absl reads as setting that flag to false.
bool IsNegatedBoolFlag(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, "no")) return false;
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  return flag != nullptr && flag->IsOfType<bool>();
}

// Splits the comma-separated `list` of `flag` into its entries, each without
// surrounding whitespace. Returns nullopt and sets `*error` when an entry is
// empty. The message shows `example`, a valid list.
std::optional<std::vector<absl::string_view>> SplitList(
    absl::string_view list, absl::string_view flag, absl::string_view example,
    std::string* error) {
  std::vector<absl::string_view> entries;
  for (absl::string_view entry : absl::StrSplit(list, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty()) {
      *error = absl::StrCat("invalid ", flag, " list '", list, "': entry ",
                            entries.size() + 1,
                            " is empty; expected a comma-separated list such "
                            "as ",
                            example);
      return std::nullopt;
    }
    entries.push_back(entry);
  }
  return entries;
}

// The accepted entries of a flag that takes a comma-separated list of
// integers, and the words that describe them in error messages.
struct IntegerListFormat {
  absl::string_view flag;         // as users type it: "--concurrency"
  absl::string_view entry_noun;   // "a whole number", "a token id"
  int32_t min = 0;
  int32_t max = 0;
  absl::string_view example;      // a valid list: "1,4,16"
};

// Parses `list` as a comma-separated list of integers from format.min to
// format.max. Returns nullopt and sets `*error` on the first entry that is
// empty or not such an integer.
std::optional<std::vector<int32_t>> ParseIntegerList(
    absl::string_view list, const IntegerListFormat& format,
    std::string* error) {
  const std::optional<std::vector<absl::string_view>> entries =
      SplitList(list, format.flag, format.example, error);
  if (!entries.has_value()) return std::nullopt;

  std::vector<int32_t> values;
  for (const absl::string_view entry : *entries) {
    int32_t value = 0;
    if (!absl::SimpleAtoi(entry, &value) || value < format.min ||
        value > format.max) {
      *error = absl::StrCat("invalid ", format.flag, " entry '", entry,
                            "': expected ", format.entry_noun, " from ",
                            format.min, " to ", format.max,
                            ", in a comma-separated list such as ",
                            format.example);
      return std::nullopt;
    }
    values.push_back(value);
  }
  return values;
}

}  // namespace

std::optional<std::string> FindFlagError(
    const std::vector<std::string>& arguments) {
  for (size_t i = 1; i < arguments.size(); ++i) {
    absl::string_view argument = arguments[i];
    if (argument == "--") break;
    if (argument.size() < 2 || argument[0] != '-') continue;
    absl::ConsumePrefix(&argument, "-");
    absl::ConsumePrefix(&argument, "-");

    const size_t equals = argument.find('=');
    const absl::string_view name = argument.substr(0, equals);
    std::optional<absl::string_view> value;
    if (equals != absl::string_view::npos) value = argument.substr(equals + 1);

    if (IsUsageFlag(name)) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) {
      if (!value.has_value() && IsNegatedBoolFlag(name)) continue;
      return absl::StrCat("unknown flag ", DisplayName(name),
                          "; run textgen-bench --help to list the flags");
    }
    // A bool flag takes its value only after '='.
    if (flag->IsOfType<bool>() && !value.has_value()) continue;
    if (!value.has_value()) {
      if (i + 1 == arguments.size()) {
        return absl::StrCat("missing value for ", DisplayName(name));
      }
      value = arguments[++i];
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      return absl::StrCat("invalid value for ", DisplayName(name), ": ", error);
    }
  }
  return std::nullopt;
}

std::optional<std::vector<int>> ParseConcurrencyList(std::string_view text,
                                                     int max_level,
                                                     std::string* error) {
  const IntegerListFormat format = {.flag = "--concurrency",
                                    .entry_noun = "a whole number",
                                    .min = 1,
                                    .max = max_level,
                                    .example = "1,4,16"};
  std::optional<std::vector<int32_t>> levels = ParseIntegerList(
      absl::string_view(text.data(), text.size()), format, error);
  if (!levels.has_value()) return std::nullopt;
  return std::vector<int>(levels->begin(), levels->end());
}

std::optional<std::vector<int32_t>> ParseTokenIdList(std::string_view text,
                                                     std::string_view flag,
                                                     std::string* error) {
  const absl::string_view list(text.data(), text.size());
  if (absl::StripAsciiWhitespace(list).empty()) return std::vector<int32_t>();
  const IntegerListFormat format = {
      .flag = absl::string_view(flag.data(), flag.size()),
      .entry_noun = "a token id",
      .min = 0,
      .max = std::numeric_limits<int32_t>::max(),
      .example = "2,13"};
  return ParseIntegerList(list, format, error);
}

std::optional<std::vector<std::pair<int32_t, float>>> ParseLogitBiasList(
    std::string_view text, std::string* error) {
  std::vector<std::pair<int32_t, float>> biases;
  const absl::string_view list(text.data(), text.size());
  if (absl::StripAsciiWhitespace(list).empty()) return biases;
  constexpr absl::string_view kExample = "50256=-100,13=2.5";
  const std::optional<std::vector<absl::string_view>> entries =
      SplitList(list, "--logit-bias", kExample, error);
  if (!entries.has_value()) return std::nullopt;
  for (const absl::string_view entry : *entries) {
    const size_t equals = entry.find('=');
    int32_t id = 0;
    float bias = 0;
    if (equals == absl::string_view::npos ||
        !absl::SimpleAtoi(entry.substr(0, equals), &id) ||
        !absl::SimpleAtof(entry.substr(equals + 1), &bias)) {
      *error = absl::StrCat("invalid --logit-bias entry '", entry,
                            "': expected TOKEN_ID=BIAS, in a comma-separated "
                            "list such as ",
                            kExample);
      return std::nullopt;
    }
    biases.emplace_back(id, bias);
  }
  return biases;
}

}  // namespace textgen::bench
