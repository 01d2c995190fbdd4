#ifndef TEXTGEN_ENGINE_UTIL_MAPPED_FILE_H_
#define TEXTGEN_ENGINE_UTIL_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace textgen {

// A whole file mapped read-only into memory, unmapped on destruction; or
// bytes already in memory, such as a model compiled into the executable.
class MappedFile {
 public:
  static absl::StatusOr<MappedFile> Open(const std::string& path);

  // Wraps `bytes`, which must outlive the object and are not unmapped.
  // `name` stands for the path in error messages.
  static MappedFile FromMemory(absl::Span<const uint8_t> bytes, std::string name);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  absl::Span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size, bool owns_mapping)
      : path_(std::move(path)), data_(data), size_(size), owns_mapping_(owns_mapping) {}

  void Unmap();

  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool owns_mapping_ = false;
};

// Reads little-endian values from a byte span in order, failing instead of
// reading past its end. Error messages name the file and the field.
class ByteReader {
 public:
  ByteReader(absl::Span<const uint8_t> bytes, std::string source)
      : bytes_(bytes), source_(std::move(source)) {}

  absl::StatusOr<int32_t> ReadInt32(const char* field);
  absl::StatusOr<float> ReadFloat(const char* field);
  // Returns `count` bytes as a string.
  absl::StatusOr<std::string> ReadBytes(size_t count, const char* field);
  // Copies `count` f32 values.
  absl::StatusOr<std::vector<float>> ReadFloats(size_t count, const char* field);
  // Moves forward `count` bytes without reading them.
  absl::Status Skip(size_t count, const char* field);

  size_t offset() const { return offset_; }
  size_t remaining() const { return bytes_.size() - offset_; }
  const std::string& source() const { return source_; }

 private:
  absl::Status CheckAvailable(size_t count, const char* field) const;

  absl::Span<const uint8_t> bytes_;
  std::string source_;
  size_t offset_ = 0;
};

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_UTIL_MAPPED_FILE_H_
