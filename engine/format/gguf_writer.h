#ifndef TEXTGEN_ENGINE_FORMAT_GGUF_WRITER_H_
#define TEXTGEN_ENGINE_FORMAT_GGUF_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/format/gguf_reader.h"

namespace textgen {

// Rounds f32 to IEEE 754 half precision, to nearest even. Values beyond the
// half range become infinity, and NaN stays a quiet NaN.
uint16_t FloatToHalf(float value);

// Rounds f32 to bfloat16, to nearest even. NaN stays a quiet NaN.
uint16_t FloatToBf16(float value);

// Builds a GGUF version 3 file in memory and writes it in one go.
//
// Metadata is written in the order keys were first set. Setting a key again
// replaces its value and keeps its position. The data section is aligned to
// 32 bytes unless general.alignment is set (as uint32, a power of two), and
// general.alignment is written only when set. Choosing the key names that
// llama.cpp expects is the caller's concern.
class GgufWriter {
 public:
  void SetString(absl::string_view key, absl::string_view value);
  void SetUint8(absl::string_view key, uint8_t value);
  void SetInt8(absl::string_view key, int8_t value);
  void SetUint16(absl::string_view key, uint16_t value);
  void SetInt16(absl::string_view key, int16_t value);
  void SetUint32(absl::string_view key, uint32_t value);
  void SetInt32(absl::string_view key, int32_t value);
  void SetUint64(absl::string_view key, uint64_t value);
  void SetInt64(absl::string_view key, int64_t value);
  void SetFloat32(absl::string_view key, float value);
  void SetFloat64(absl::string_view key, double value);
  void SetBool(absl::string_view key, bool value);

  void SetStringArray(absl::string_view key, absl::Span<const std::string> values);
  void SetFloat32Array(absl::string_view key, absl::Span<const float> values);
  void SetInt32Array(absl::string_view key, absl::Span<const int32_t> values);
  void SetBoolArray(absl::string_view key, absl::Span<const bool> values);
  // Sets an array of numbers of GGUF's matching element type. T is one of
  // uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, uint64_t,
  // int64_t, float and double; name it explicitly when passing a vector:
  //   writer.SetNumberArray<uint16_t>("my.key", values);
  template <typename T>
  void SetNumberArray(absl::string_view key, absl::Span<const T> values);

  // Adds a tensor whose data is `values` in GGUF order (dims[0] contiguous),
  // stored as `type`: F16 and BF16 round each value to nearest even.
  // Returns InvalidArgument for a name that is empty, already added or
  // longer than 63 bytes (ggml's limit, so llama.cpp could not load it). The
  // same goes for `dims` with no entry, more than 4 or a 0 entry, and for a
  // product of `dims` that differs from the number of values.
  absl::Status AddTensor(absl::string_view name, std::vector<uint64_t> dims, GgufTensorType type,
                         absl::Span<const float> values);

  // Writes the file to `path` + ".tmp", then renames it to `path`, so a
  // reader never sees a partial file at `path`. The rename replaces an
  // existing file.
  absl::Status WriteFile(const std::string& path) const;

 private:
  struct MetadataEntry {
    std::string key;
    GgufValueType type;
    // The value as GGUF encodes it after the type field.
    std::string encoded_value;
  };

  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    GgufTensorType type;
    std::string data;
  };

  void Set(absl::string_view key, GgufValueType type, std::string encoded_value);
  // Returns the data alignment: 32, or general.alignment when it is set.
  absl::StatusOr<uint64_t> Alignment(const std::string& path) const;
  // Encodes everything before the data section, including its padding.
  std::string EncodeHeader(uint64_t alignment) const;

  std::vector<MetadataEntry> metadata_;
  absl::flat_hash_map<std::string, size_t> metadata_index_;
  std::vector<Tensor> tensors_;
  absl::flat_hash_map<std::string, size_t> tensor_index_;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_FORMAT_GGUF_WRITER_H_
