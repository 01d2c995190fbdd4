#include "tools/convert/gguf_inspect.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace textgen {

std::string DescribeGgufFile(const GgufFile& file) {
  const std::vector<std::string> keys = file.MetadataKeys();
  std::string text = absl::StrCat(file.path(), ": GGUF version ", file.version(), ", ",
                                  keys.size(), " metadata keys, ", file.tensors().size(),
                                  " tensors\n");

  absl::StrAppend(&text, "metadata:\n");
  for (const std::string& key : keys) {
    absl::StrAppend(&text, "  ", key, " = ", file.DescribeValue(key), "\n");
  }

  absl::StrAppend(&text, "tensors:\n");
  uint64_t total_elements = 0;
  for (const GgufTensorInfo& tensor : file.tensors()) {
    absl::StrAppend(&text, "  ", tensor.name, " [", absl::StrJoin(tensor.dims, ", "), "] ",
                    GgmlTypeName(static_cast<uint32_t>(tensor.type)), "\n");
    total_elements += tensor.element_count;
  }
  absl::StrAppend(&text, "total elements: ", total_elements, "\n");
  return text;
}

}  // namespace textgen
