#include "engine/util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace textgen {

absl::StatusOr<MappedFile> MappedFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    std::string message = absl::StrCat(path, ": cannot open: ", std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(message) : absl::InvalidArgumentError(message);
  }

  struct stat info;
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }

  size_t size = static_cast<size_t>(info.st_size);
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      int error = errno;
      ::close(fd);
      return absl::InternalError(absl::StrCat(path, ": mmap failed: ", std::strerror(error)));
    }
    data = static_cast<const uint8_t*>(mapping);
  }
  ::close(fd);
  return MappedFile(path, data, size, /*owns_mapping=*/true);
}

MappedFile MappedFile::FromMemory(absl::Span<const uint8_t> bytes, std::string name) {
  return MappedFile(std::move(name), bytes.data(), bytes.size(), /*owns_mapping=*/false);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      owns_mapping_(std::exchange(other.owns_mapping_, false)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    Unmap();
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    owns_mapping_ = std::exchange(other.owns_mapping_, false);
  }
  return *this;
}

MappedFile::~MappedFile() { Unmap(); }

void MappedFile::Unmap() {
  if (owns_mapping_ && data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
  owns_mapping_ = false;
}

absl::Status ByteReader::CheckAvailable(size_t count, const char* field) const {
  if (count > remaining()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_, ": file is truncated: ", field, " needs ", count, " bytes at offset ", offset_,
        " but the file has ", remaining(), " bytes left (file size ", bytes_.size(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int32_t> ByteReader::ReadInt32(const char* field) {
  absl::Status status = CheckAvailable(sizeof(int32_t), field);
  if (!status.ok()) return status;
  int32_t value;
  std::memcpy(&value, bytes_.data() + offset_, sizeof(value));
  offset_ += sizeof(value);
  return value;
}

absl::StatusOr<float> ByteReader::ReadFloat(const char* field) {
  absl::Status status = CheckAvailable(sizeof(float), field);
  if (!status.ok()) return status;
  float value;
  std::memcpy(&value, bytes_.data() + offset_, sizeof(value));
  offset_ += sizeof(value);
  return value;
}

absl::StatusOr<std::string> ByteReader::ReadBytes(size_t count, const char* field) {
  absl::Status status = CheckAvailable(count, field);
  if (!status.ok()) return status;
  std::string value(reinterpret_cast<const char*>(bytes_.data() + offset_), count);
  offset_ += count;
  return value;
}

absl::StatusOr<std::vector<float>> ByteReader::ReadFloats(size_t count, const char* field) {
  if (count > remaining() / sizeof(float)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_, ": file is truncated: ", field, " needs ", count, " f32 values (", count,
        " * 4 bytes) at offset ", offset_, " but the file has ", remaining(),
        " bytes left (file size ", bytes_.size(), ")"));
  }
  std::vector<float> values(count);
  if (count > 0) std::memcpy(values.data(), bytes_.data() + offset_, count * sizeof(float));
  offset_ += count * sizeof(float);
  return values;
}

absl::Status ByteReader::Skip(size_t count, const char* field) {
  absl::Status status = CheckAvailable(count, field);
  if (!status.ok()) return status;
  offset_ += count;
  return absl::OkStatus();
}

}  // namespace textgen
