#ifndef TEXTGEN_TESTS_TEST_PATHS_H_
#define TEXTGEN_TESTS_TEST_PATHS_H_

#include <cstdlib>
#include <string>

namespace textgen::testing {

// Returns the shared data folder (models/ and reference/): the environment
// variable TEXTGEN_SHARED_DIR when set, otherwise the CMake option of the
// same name.
inline std::string SharedDir() {
  const char* from_environment = std::getenv("TEXTGEN_SHARED_DIR");
  if (from_environment != nullptr && *from_environment != '\0') return from_environment;
  return TEXTGEN_SHARED_DIR_DEFAULT;
}

inline std::string SharedPath(const std::string& relative) { return SharedDir() + "/" + relative; }

// Returns the folder where the build writes generated test data.
inline std::string BuildTestDataDir() { return TEXTGEN_TEST_DATA_DIR; }

// Returns the root of the source tree.
inline std::string SourceDir() { return TEXTGEN_SOURCE_DIR; }

// Returns the folder of the built executables (textgen-server, textgen-client).
inline std::string BinaryDir() { return TEXTGEN_BINARY_DIR; }

}  // namespace textgen::testing

#endif  // TEXTGEN_TESTS_TEST_PATHS_H_
