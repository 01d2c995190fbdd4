#ifndef TEXTGEN_TOOLS_CONVERT_GGUF_INSPECT_H_
#define TEXTGEN_TOOLS_CONVERT_GGUF_INSPECT_H_

#include <string>

#include "engine/format/gguf_reader.h"

namespace textgen {

// Returns a human-readable listing of a GGUF file: its version, tensor and
// metadata counts, every metadata key with GgufFile::DescribeValue, then one
// line per tensor with its name, dims (GGUF order, contiguous first) and
// type.
std::string DescribeGgufFile(const GgufFile& file);

}  // namespace textgen

#endif  // TEXTGEN_TOOLS_CONVERT_GGUF_INSPECT_H_
