#include "client/bench_command_line.h"

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
  std::vector<int> levels;
  for (absl::string_view entry :
       absl::StrSplit(absl::string_view(text.data(), text.size()), ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    int level = 0;
    if (!absl::SimpleAtoi(entry, &level) || level < 1 || level > max_level) {
      *error = absl::StrCat("invalid --concurrency entry '", entry,
                            "': expected a whole number from 1 to ", max_level,
                            ", in a comma-separated list such as 1,4,16");
      return std::nullopt;
    }
    levels.push_back(level);
  }
  return levels;
}

std::optional<std::vector<std::pair<int32_t, float>>> ParseLogitBiasList(
    std::string_view text, std::string* error) {
  std::vector<std::pair<int32_t, float>> biases;
  const absl::string_view list(text.data(), text.size());
  if (absl::StripAsciiWhitespace(list).empty()) return biases;
  for (absl::string_view entry : absl::StrSplit(list, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    const size_t equals = entry.find('=');
    int32_t id = 0;
    float bias = 0;
    if (equals == absl::string_view::npos ||
        !absl::SimpleAtoi(entry.substr(0, equals), &id) ||
        !absl::SimpleAtof(entry.substr(equals + 1), &bias)) {
      *error = absl::StrCat("invalid --logit-bias entry '", entry,
                            "': expected TOKEN_ID=BIAS, in a comma-separated "
                            "list such as 50256=-100,13=2.5");
      return std::nullopt;
    }
    biases.emplace_back(id, bias);
  }
  return biases;
}

}  // namespace textgen::bench
