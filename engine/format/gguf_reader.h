#ifndef TEXTGEN_ENGINE_FORMAT_GGUF_READER_H_
#define TEXTGEN_ENGINE_FORMAT_GGUF_READER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/util/mapped_file.h"

namespace textgen {

// GGUF metadata value types, numbered as in the GGUF specification.
enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// "uint8", "string", "array" and so on; "unknown" for a number outside the
// enum.
const char* GgufValueTypeName(GgufValueType type);

// The tensor types this engine reads and writes, numbered as ggml's
// ggml_type. GGUF files may hold other (quantized) types, which the reader
// rejects.
enum class GgufTensorType : uint32_t { kF32 = 0, kF16 = 1, kBF16 = 30 };

// Returns ggml's name for a ggml_type number ("F32", "Q4_0", "BF16", ...),
// or "unknown" for a number ggml does not define.
const char* GgmlTypeName(uint32_t type);

// Bytes per element of a supported tensor type: 4 for F32, 2 for F16 and
// BF16.
size_t GgufTensorTypeSize(GgufTensorType type);

// Converts IEEE 754 half precision (binary16) bits to f32, exactly.
float HalfToFloat(uint16_t bits);

// Converts bfloat16 bits (the upper half of an f32) to f32, exactly.
float Bf16ToFloat(uint16_t bits);

struct GgufTensorInfo {
  std::string name;
  // GGUF order: dims[0] is the contiguous (fastest) dimension, so a PyTorch
  // [out, in] matrix has dims {in, out}. Empty for a scalar.
  std::vector<uint64_t> dims;
  GgufTensorType type = GgufTensorType::kF32;
  // Absolute byte offset of the tensor's data in the file.
  uint64_t offset = 0;
  // Product of `dims`: 1 for a scalar.
  uint64_t element_count = 0;
  uint64_t size_bytes = 0;
};

// A GGUF file of version 2 or 3, memory-mapped and validated as a whole when
// opened: the header, every metadata value and every tensor's position. No
// input makes the reader read outside the file, and every count is checked
// against the bytes left before anything is allocated for it. Metadata
// values stay in the mapping and are decoded when requested.
//
// Accessors return NotFound for a missing key or tensor and InvalidArgument
// for a value of the wrong type or range. Each message names the file, the
// key or tensor, the value found and what was expected.
class GgufFile {
 public:
  static absl::StatusOr<GgufFile> Open(const std::string& path);

  // Parses a GGUF image already in memory; `bytes` must outlive the object.
  // `name` stands for the path in error messages.
  static absl::StatusOr<GgufFile> FromMemory(absl::Span<const uint8_t> bytes, std::string name);

  GgufFile(GgufFile&&) = default;
  GgufFile& operator=(GgufFile&&) = default;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  // The value of general.alignment, or 32 when the key is absent.
  uint64_t alignment() const { return alignment_; }
  // Absolute offset of the data section: the end of the tensor infos rounded
  // up to the alignment. May equal or exceed the file size when the file
  // contains no tensors.
  uint64_t data_offset() const { return data_offset_; }

  // Metadata keys in file order.
  std::vector<std::string> MetadataKeys() const;
  bool HasKey(absl::string_view key) const;
  // The key's value type, or nullopt when the key is missing.
  std::optional<GgufValueType> ValueType(absl::string_view key) const;
  // Returns a one-line description for a debug dump: the type, then the value
  // (strings quoted and escaped, long ones shortened), or for arrays the
  // element type, the length and the first few elements.
  std::string DescribeValue(absl::string_view key) const;

  absl::StatusOr<std::string> GetString(absl::string_view key) const;
  // The integer getters accept any integer type whose value fits the result.
  absl::StatusOr<uint32_t> GetUint32(absl::string_view key) const;
  absl::StatusOr<uint64_t> GetUint64(absl::string_view key) const;
  absl::StatusOr<int32_t> GetInt32(absl::string_view key) const;
  absl::StatusOr<int64_t> GetInt64(absl::string_view key) const;
  // Accepts float32 or float64; a float64 is rounded to the nearest float.
  absl::StatusOr<float> GetFloat32(absl::string_view key) const;
  // Accepts float32 or float64.
  absl::StatusOr<double> GetFloat64(absl::string_view key) const;
  absl::StatusOr<bool> GetBool(absl::string_view key) const;

  absl::StatusOr<std::vector<std::string>> GetStringArray(absl::string_view key) const;
  // Accepts arrays of float32 or float64.
  absl::StatusOr<std::vector<float>> GetFloat32Array(absl::string_view key) const;
  absl::StatusOr<std::vector<double>> GetFloat64Array(absl::string_view key) const;
  // The integer array getters accept any integer element type whose values
  // all fit the result.
  absl::StatusOr<std::vector<int32_t>> GetInt32Array(absl::string_view key) const;
  absl::StatusOr<std::vector<int64_t>> GetInt64Array(absl::string_view key) const;
  absl::StatusOr<std::vector<uint64_t>> GetUint64Array(absl::string_view key) const;
  absl::StatusOr<std::vector<bool>> GetBoolArray(absl::string_view key) const;

  // Tensor infos in file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  // Returns nullptr when the file has no tensor of that name.
  const GgufTensorInfo* FindTensor(absl::string_view name) const;
  // The tensor's raw little-endian data, `size_bytes` long.
  absl::Span<const uint8_t> TensorBytes(const GgufTensorInfo& tensor) const;
  // Reads a tensor as f32, converting F16 and BF16. `expected_dims` is in
  // GGUF order and must equal the stored dims.
  absl::StatusOr<std::vector<float>> ReadTensorF32(absl::string_view name,
                                                   const std::vector<uint64_t>& expected_dims) const;

 private:
  // Location and type of a metadata value in the mapping. For an array,
  // `offset` is the first element's position, and for any other type it is
  // the value's.
  struct MetadataEntry {
    std::string key;
    GgufValueType type;
    GgufValueType element_type = GgufValueType::kUint8;
    uint64_t array_size = 0;
    size_t offset = 0;
  };

  // Reads the file's structure in order, checking each read against the
  // remaining bytes. Defined in the .cc file.
  class Cursor;

  explicit GgufFile(MappedFile file) : file_(std::move(file)) {}

  absl::Status Parse();
  absl::Status ParseMetadata(Cursor& cursor, uint64_t count);
  absl::Status SkipValue(Cursor& cursor, const MetadataEntry& entry);
  absl::Status ParseTensorInfos(Cursor& cursor, uint64_t count);
  absl::Status ValidateTensorPlacement();

  // Returns the entry for `key`, or NotFound naming `expected_type`.
  absl::StatusOr<const MetadataEntry*> FindEntry(absl::string_view key,
                                                 absl::string_view expected_type) const;
  absl::Status WrongType(const MetadataEntry& entry, absl::string_view expected_type) const;
  std::string Describe(const MetadataEntry& entry) const;
  // Describes the element at `offset` and returns the offset just past it.
  std::pair<std::string, size_t> DescribeElement(GgufValueType type, size_t offset) const;
  template <typename T>
  absl::StatusOr<T> GetInteger(absl::string_view key, absl::string_view expected_type) const;
  template <typename T>
  absl::StatusOr<std::vector<T>> GetIntegerArray(absl::string_view key,
                                                 absl::string_view expected_type) const;
  template <typename T>
  absl::StatusOr<std::vector<T>> GetFloatArray(absl::string_view key,
                                               absl::string_view expected_type) const;
  // Reads the string whose length prefix starts at `offset`, and the offset
  // just past it.
  std::pair<std::string, size_t> StringAt(size_t offset) const;

  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<MetadataEntry> metadata_;
  absl::flat_hash_map<std::string, size_t> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  absl::flat_hash_map<std::string, size_t> tensor_index_;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_FORMAT_GGUF_READER_H_
