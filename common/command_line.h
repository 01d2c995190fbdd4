#ifndef TEXTGEN_COMMON_COMMAND_LINE_H_
#define TEXTGEN_COMMON_COMMAND_LINE_H_

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace textgen {

// Rewrites `--flag-name[=value]` to `--flag_name[=value]` so that users can
// spell flags with dashes, while absl flags names are C++ identifiers with
// underscores. Only the name part before '=' changes; values and positional
// arguments are kept as they are, and everything after a bare `--` too.
// The returned strings back the pointers in `argv_out`.
inline std::vector<std::string> NormalizeFlagNames(int argc, char** argv) {
  std::vector<std::string> arguments(argv, argv + argc);
  for (size_t i = 1; i < arguments.size(); ++i) {
    std::string& argument = arguments[i];
    if (argument == "--") break;
    if (argument.size() < 3 || argument.compare(0, 2, "--") != 0) continue;
    const size_t name_end = std::min(argument.find('='), argument.size());
    for (size_t c = 2; c < name_end; ++c) {
      if (argument[c] == '-') argument[c] = '_';
    }
  }
  return arguments;
}

// Returns argv-style pointers into `arguments`, which must outlive them.
inline std::vector<char*> ArgvPointers(std::vector<std::string>& arguments) {
  std::vector<char*> pointers;
  for (std::string& argument : arguments) pointers.push_back(argument.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace textgen

#endif  // TEXTGEN_COMMON_COMMAND_LINE_H_
