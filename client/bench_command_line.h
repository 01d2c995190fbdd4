// Command-line checks of textgen-bench that run before absl parses the flags,
// so that a bad flag exits with the usage status 2 instead of absl's 1.

#ifndef TEXTGEN_CLIENT_BENCH_COMMAND_LINE_H_
#define TEXTGEN_CLIENT_BENCH_COMMAND_LINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace textgen::bench {

// Returns an error message for the first flag in `arguments` (argv with
// underscores in flag names, as NormalizeFlagNames returns it) that is not
// defined or whose value does not parse, or nullopt when all flags are
// valid. Arguments after "--" are not flags. Checking a value sets the flag
// to it, which absl::ParseCommandLine then sets again.
// NOTE: Only absl checks the flags inside a --flagfile, and it exits with
// status 1 on an error there.
std::optional<std::string> FindFlagError(
    const std::vector<std::string>& arguments);

// Parses a comma-separated list of concurrency levels such as "1,4,16", each
// from 1 to `max_level`. Returns nullopt and sets `*error` when the list is
// empty or an entry is not such a number.
std::optional<std::vector<int>> ParseConcurrencyList(std::string_view text,
                                                     int max_level,
                                                     std::string* error);

// Parses a comma-separated list of token ids such as "2,13" given to `flag`,
// which is written as users type it ("--stop-token-id"). An empty text is an
// empty list. Returns nullopt and sets `*error`, naming `flag` and the entry,
// when an entry is empty (as after a trailing comma) or is not a whole number
// from 0 to 2147483647. The server checks that every id is below its
// vocab_size.
std::optional<std::vector<int32_t>> ParseTokenIdList(std::string_view text,
                                                     std::string_view flag,
                                                     std::string* error);

// Parses a comma-separated list of TOKEN_ID=BIAS entries such as
// "50256=-100,13=2.5" for --logit-bias. An empty text is an empty list.
// Returns nullopt and sets `*error` when an entry has another form. The
// server checks the ranges.
std::optional<std::vector<std::pair<int32_t, float>>> ParseLogitBiasList(
    std::string_view text, std::string* error);

}  // namespace textgen::bench

#endif  // TEXTGEN_CLIENT_BENCH_COMMAND_LINE_H_
