#ifndef TEXTGEN_TOOLS_CONVERT_SAFETENSORS_READER_H_
#define TEXTGEN_TOOLS_CONVERT_SAFETENSORS_READER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/util/mapped_file.h"

namespace textgen {

// Element types that the safetensors format defines. Only F32, F16 and BF16
// can be read as f32. A file with tensors of the other types still opens,
// and reading such a tensor fails.
enum class SafetensorsDtype {
  kBool,
  kU8,
  kI8,
  kF8E5M2,
  kF8E4M3,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kF64,
  kI64,
  kU64,
};

// The dtype's name as the header spells it: "F32", "BF16", ...
const char* SafetensorsDtypeName(SafetensorsDtype dtype);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  // Row-major shape as PyTorch has it: the last dimension is contiguous.
  // Empty for a scalar.
  std::vector<uint64_t> shape;
  uint64_t element_count = 0;  // product of `shape`, 1 for a scalar
  // Byte range of the data, relative to the start of the data section (the
  // header's data_offsets).
  uint64_t begin = 0;
  uint64_t end = 0;
};

// A .safetensors file, memory-mapped and validated as a whole when opened.
//
// Layout: an 8-byte little-endian header length N, N bytes of a UTF-8 JSON
// object, then the data section. The JSON maps each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} and may have a
// "__metadata__" object of string values. Open checks that the header fits
// the file. It checks that every entry has a known dtype, non-negative shape
// entries and a byte range inside the data section whose length matches
// dtype and shape. The ranges must cover the data section without gaps or
// overlaps, as the format requires. No input makes the reader access memory
// outside the mapping. Errors name the file, the tensor or field, the value
// and what was expected.
class SafetensorsFile {
 public:
  static absl::StatusOr<SafetensorsFile> Open(const std::string& path);

  SafetensorsFile(SafetensorsFile&&) = default;
  SafetensorsFile& operator=(SafetensorsFile&&) = default;

  const std::string& path() const { return file_.path(); }
  // Tensors in the order their data lies in the file.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  // The "__metadata__" entries, empty when the header has none.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Returns nullptr when the file has no tensor of that name.
  const SafetensorsTensor* Find(absl::string_view name) const;

  // The tensor's raw little-endian bytes.
  absl::Span<const uint8_t> TensorBytes(const SafetensorsTensor& tensor) const;

  // Reads a F32, F16 or BF16 tensor as f32 values in row-major order. Fails
  // for other dtypes.
  absl::StatusOr<std::vector<float>> ReadF32(const SafetensorsTensor& tensor) const;

 private:
  explicit SafetensorsFile(MappedFile file) : file_(std::move(file)) {}

  absl::Status Parse();

  MappedFile file_;
  uint64_t data_offset_ = 0;  // absolute offset of the data section
  uint64_t data_size_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  absl::flat_hash_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace textgen

#endif  // TEXTGEN_TOOLS_CONVERT_SAFETENSORS_READER_H_
