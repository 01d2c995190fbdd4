#include "engine/format/gguf_writer.h"

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/util/status_macros.h"

namespace textgen {
namespace {

constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr size_t kMaxDims = 4;
// ggml stores tensor names in a 64-byte buffer with a terminating NUL, and
// llama.cpp rejects longer names when it loads a file.
constexpr size_t kMaxTensorNameBytes = 63;

template <typename T>
void Append(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

void AppendString(std::string& out, absl::string_view text) {
  Append<uint64_t>(out, text.size());
  out.append(text.data(), text.size());
}

// Encodes an array's element type and length, the header of its elements.
std::string ArrayHeader(GgufValueType element_type, uint64_t size) {
  std::string out;
  Append<uint32_t>(out, static_cast<uint32_t>(element_type));
  Append<uint64_t>(out, size);
  return out;
}

template <typename T>
std::string EncodeScalar(T value) {
  std::string out;
  Append<T>(out, value);
  return out;
}

template <typename T>
constexpr GgufValueType NumberType() {
  if constexpr (std::is_same_v<T, uint8_t>) return GgufValueType::kUint8;
  if constexpr (std::is_same_v<T, int8_t>) return GgufValueType::kInt8;
  if constexpr (std::is_same_v<T, uint16_t>) return GgufValueType::kUint16;
  if constexpr (std::is_same_v<T, int16_t>) return GgufValueType::kInt16;
  if constexpr (std::is_same_v<T, uint32_t>) return GgufValueType::kUint32;
  if constexpr (std::is_same_v<T, int32_t>) return GgufValueType::kInt32;
  if constexpr (std::is_same_v<T, uint64_t>) return GgufValueType::kUint64;
  if constexpr (std::is_same_v<T, int64_t>) return GgufValueType::kInt64;
  if constexpr (std::is_same_v<T, float>) return GgufValueType::kFloat32;
  if constexpr (std::is_same_v<T, double>) return GgufValueType::kFloat64;
}

uint64_t RoundUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

std::string FormatDims(const std::vector<uint64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

std::string ErrnoMessage(int error) { return std::strerror(error); }

}  // namespace

uint16_t FloatToHalf(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  uint32_t sign = (bits >> 16) & 0x8000u;
  uint32_t exponent = (bits >> 23) & 0xffu;
  uint32_t mantissa = bits & 0x7fffffu;

  if (exponent == 0xff) {
    if (mantissa == 0) return static_cast<uint16_t>(sign | 0x7c00u);
    // Quiet NaN that keeps the top bits of the payload.
    return static_cast<uint16_t>(sign | 0x7e00u | (mantissa >> 13));
  }

  // The exponent rebiased from 127 to 15.
  int32_t half_exponent = static_cast<int32_t>(exponent) - 127 + 15;
  if (half_exponent >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00u);

  if (half_exponent <= 0) {
    // A half subnormal (or zero): the significand with its implicit bit,
    // shifted to units of 2^-24. Below 2^-25 everything rounds to zero.
    if (half_exponent < -10) return static_cast<uint16_t>(sign);
    uint32_t significand = mantissa | 0x800000u;
    uint32_t shift = static_cast<uint32_t>(14 - half_exponent);
    uint32_t half_mantissa = significand >> shift;
    uint32_t remainder = significand & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (half_mantissa & 1u) != 0)) {
      ++half_mantissa;  // A carry into bit 10 gives the smallest normal, as it should.
    }
    return static_cast<uint16_t>(sign | half_mantissa);
  }

  uint32_t half = (static_cast<uint32_t>(half_exponent) << 10) | (mantissa >> 13);
  uint32_t remainder = mantissa & 0x1fffu;
  if (remainder > 0x1000u || (remainder == 0x1000u && (half & 1u) != 0)) {
    ++half;  // A carry out of the largest finite value gives infinity, as it should.
  }
  return static_cast<uint16_t>(sign | half);
}

uint16_t FloatToBf16(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);  // Quiet NaN.
  }
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

void GgufWriter::Set(absl::string_view key, GgufValueType type, std::string encoded_value) {
  auto it = metadata_index_.find(key);
  if (it != metadata_index_.end()) {
    MetadataEntry& entry = metadata_[it->second];
    entry.type = type;
    entry.encoded_value = std::move(encoded_value);
    return;
  }
  metadata_index_.emplace(std::string(key), metadata_.size());
  metadata_.push_back({std::string(key), type, std::move(encoded_value)});
}

void GgufWriter::SetString(absl::string_view key, absl::string_view value) {
  std::string encoded;
  AppendString(encoded, value);
  Set(key, GgufValueType::kString, std::move(encoded));
}

void GgufWriter::SetUint8(absl::string_view key, uint8_t value) {
  Set(key, GgufValueType::kUint8, EncodeScalar(value));
}

void GgufWriter::SetInt8(absl::string_view key, int8_t value) {
  Set(key, GgufValueType::kInt8, EncodeScalar(value));
}

void GgufWriter::SetUint16(absl::string_view key, uint16_t value) {
  Set(key, GgufValueType::kUint16, EncodeScalar(value));
}

void GgufWriter::SetInt16(absl::string_view key, int16_t value) {
  Set(key, GgufValueType::kInt16, EncodeScalar(value));
}

void GgufWriter::SetUint32(absl::string_view key, uint32_t value) {
  Set(key, GgufValueType::kUint32, EncodeScalar(value));
}

void GgufWriter::SetInt32(absl::string_view key, int32_t value) {
  Set(key, GgufValueType::kInt32, EncodeScalar(value));
}

void GgufWriter::SetUint64(absl::string_view key, uint64_t value) {
  Set(key, GgufValueType::kUint64, EncodeScalar(value));
}

void GgufWriter::SetInt64(absl::string_view key, int64_t value) {
  Set(key, GgufValueType::kInt64, EncodeScalar(value));
}

void GgufWriter::SetFloat32(absl::string_view key, float value) {
  Set(key, GgufValueType::kFloat32, EncodeScalar(value));
}

void GgufWriter::SetFloat64(absl::string_view key, double value) {
  Set(key, GgufValueType::kFloat64, EncodeScalar(value));
}

void GgufWriter::SetBool(absl::string_view key, bool value) {
  Set(key, GgufValueType::kBool, EncodeScalar<uint8_t>(value ? 1 : 0));
}

void GgufWriter::SetStringArray(absl::string_view key, absl::Span<const std::string> values) {
  std::string encoded = ArrayHeader(GgufValueType::kString, values.size());
  for (const std::string& value : values) AppendString(encoded, value);
  Set(key, GgufValueType::kArray, std::move(encoded));
}

void GgufWriter::SetBoolArray(absl::string_view key, absl::Span<const bool> values) {
  std::string encoded = ArrayHeader(GgufValueType::kBool, values.size());
  for (bool value : values) Append<uint8_t>(encoded, value ? 1 : 0);
  Set(key, GgufValueType::kArray, std::move(encoded));
}

template <typename T>
void GgufWriter::SetNumberArray(absl::string_view key, absl::Span<const T> values) {
  std::string encoded = ArrayHeader(NumberType<T>(), values.size());
  for (T value : values) Append<T>(encoded, value);
  Set(key, GgufValueType::kArray, std::move(encoded));
}

template void GgufWriter::SetNumberArray<uint8_t>(absl::string_view, absl::Span<const uint8_t>);
template void GgufWriter::SetNumberArray<int8_t>(absl::string_view, absl::Span<const int8_t>);
template void GgufWriter::SetNumberArray<uint16_t>(absl::string_view, absl::Span<const uint16_t>);
template void GgufWriter::SetNumberArray<int16_t>(absl::string_view, absl::Span<const int16_t>);
template void GgufWriter::SetNumberArray<uint32_t>(absl::string_view, absl::Span<const uint32_t>);
template void GgufWriter::SetNumberArray<int32_t>(absl::string_view, absl::Span<const int32_t>);
template void GgufWriter::SetNumberArray<uint64_t>(absl::string_view, absl::Span<const uint64_t>);
template void GgufWriter::SetNumberArray<int64_t>(absl::string_view, absl::Span<const int64_t>);
template void GgufWriter::SetNumberArray<float>(absl::string_view, absl::Span<const float>);
template void GgufWriter::SetNumberArray<double>(absl::string_view, absl::Span<const double>);

void GgufWriter::SetFloat32Array(absl::string_view key, absl::Span<const float> values) {
  SetNumberArray<float>(key, values);
}

void GgufWriter::SetInt32Array(absl::string_view key, absl::Span<const int32_t> values) {
  SetNumberArray<int32_t>(key, values);
}

absl::Status GgufWriter::AddTensor(absl::string_view name, std::vector<uint64_t> dims,
                                   GgufTensorType type, absl::Span<const float> values) {
  if (name.empty() || name.size() > kMaxTensorNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF tensor name \"", name, "\" has ", name.size(),
                     " bytes, expected 1 to ", kMaxTensorNameBytes));
  }
  if (tensor_index_.contains(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF tensor ", name, " is already added, expected unique tensor names"));
  }
  if (dims.empty() || dims.size() > kMaxDims) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF tensor ", name, " has dims ",
                                                   FormatDims(dims), ", expected 1 to ", kMaxDims,
                                                   " dimensions"));
  }
  uint64_t element_count = 1;
  for (uint64_t dim : dims) {
    if (dim == 0 || __builtin_mul_overflow(element_count, dim, &element_count)) {
      return absl::InvalidArgumentError(
          absl::StrCat("GGUF tensor ", name, " has dims ", FormatDims(dims),
                       ", expected every dimension to be at least 1 and their product to fit "
                       "64 bits"));
    }
  }
  if (element_count != values.size()) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF tensor ", name, " has dims ",
                                                   FormatDims(dims), " (", element_count,
                                                   " values), but ", values.size(),
                                                   " values were given"));
  }

  Tensor tensor{std::string(name), std::move(dims), type, {}};
  tensor.data.reserve(values.size() * GgufTensorTypeSize(type));
  switch (type) {
    case GgufTensorType::kF32:
      for (float value : values) Append<float>(tensor.data, value);
      break;
    case GgufTensorType::kF16:
      for (float value : values) Append<uint16_t>(tensor.data, FloatToHalf(value));
      break;
    case GgufTensorType::kBF16:
      for (float value : values) Append<uint16_t>(tensor.data, FloatToBf16(value));
      break;
  }
  tensor_index_.emplace(tensor.name, tensors_.size());
  tensors_.push_back(std::move(tensor));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> GgufWriter::Alignment(const std::string& path) const {
  auto it = metadata_index_.find("general.alignment");
  if (it == metadata_index_.end()) return kDefaultAlignment;
  const MetadataEntry& entry = metadata_[it->second];
  if (entry.type != GgufValueType::kUint32) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": metadata key general.alignment is set as ",
                     GgufValueTypeName(entry.type), ", expected uint32 (use SetUint32)"));
  }
  uint32_t alignment;
  std::memcpy(&alignment, entry.encoded_value.data(), sizeof(alignment));
  if (!std::has_single_bit(alignment)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": metadata key general.alignment is ", alignment, ", expected a power of two"));
  }
  return alignment;
}

std::string GgufWriter::EncodeHeader(uint64_t alignment) const {
  std::string header("GGUF");
  Append<uint32_t>(header, kVersion);
  Append<uint64_t>(header, tensors_.size());
  Append<uint64_t>(header, metadata_.size());
  for (const MetadataEntry& entry : metadata_) {
    AppendString(header, entry.key);
    Append<uint32_t>(header, static_cast<uint32_t>(entry.type));
    header += entry.encoded_value;
  }

  // Offsets are relative to the data section. Each tensor starts aligned.
  uint64_t offset = 0;
  for (const Tensor& tensor : tensors_) {
    AppendString(header, tensor.name);
    Append<uint32_t>(header, static_cast<uint32_t>(tensor.dims.size()));
    for (uint64_t dim : tensor.dims) Append<uint64_t>(header, dim);
    Append<uint32_t>(header, static_cast<uint32_t>(tensor.type));
    Append<uint64_t>(header, offset);
    offset = RoundUp(offset + tensor.data.size(), alignment);
  }
  header.resize(RoundUp(header.size(), alignment), '\0');
  return header;
}

absl::Status GgufWriter::WriteFile(const std::string& path) const {
  ASSIGN_OR_RETURN(uint64_t alignment, Alignment(path));
  std::string header = EncodeHeader(alignment);

  const std::string temp_path = path + ".tmp";
  std::FILE* file = std::fopen(temp_path.c_str(), "wb");
  if (file == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(temp_path, ": cannot open for writing: ", ErrnoMessage(errno)));
  }

  const std::string padding(alignment, '\0');
  bool ok = std::fwrite(header.data(), 1, header.size(), file) == header.size();
  for (const Tensor& tensor : tensors_) {
    if (!ok) break;
    ok = std::fwrite(tensor.data.data(), 1, tensor.data.size(), file) == tensor.data.size();
    size_t pad = RoundUp(tensor.data.size(), alignment) - tensor.data.size();
    ok = ok && std::fwrite(padding.data(), 1, pad, file) == pad;
  }
  int write_error = ok ? 0 : errno;
  if (std::fclose(file) != 0 && ok) {
    ok = false;
    write_error = errno;
  }
  if (!ok) {
    std::remove(temp_path.c_str());
    return absl::InternalError(
        absl::StrCat(temp_path, ": writing failed: ", ErrnoMessage(write_error)));
  }

  if (std::rename(temp_path.c_str(), path.c_str()) != 0) {
    int error = errno;
    std::remove(temp_path.c_str());
    return absl::InternalError(absl::StrCat("renaming ", temp_path, " to ", path,
                                            " failed: ", ErrnoMessage(error)));
  }
  return absl::OkStatus();
}

}  // namespace textgen
