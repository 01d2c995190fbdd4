#include "engine/format/gguf_reader.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/util/status_macros.h"

namespace textgen {
namespace {

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;

// The smallest encodings of a metadata entry (key length, value type and a
// one-byte value) and of a tensor info (name length, n_dims 0, type and
// offset). Counts are checked against them before anything is allocated.
constexpr uint64_t kMinMetadataEntryBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;

// DescribeValue shows this many array elements and string characters.
constexpr size_t kDescribedElements = 3;
constexpr size_t kDescribedStringBytes = 60;

// Builds the name of the item being read, only when an error message needs
// it, so that reading 50,000 array elements formats no strings.
using FieldName = absl::FunctionRef<std::string()>;

bool IsKnownValueType(uint32_t type) { return type <= static_cast<uint32_t>(GgufValueType::kFloat64); }

bool IsInteger(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
      return true;
    default:
      return false;
  }
}

bool IsFloat(GgufValueType type) {
  return type == GgufValueType::kFloat32 || type == GgufValueType::kFloat64;
}

// Bytes of one value of a fixed-size type, or 0 for string and array.
size_t FixedSize(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
      return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32:
      return 4;
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64:
      return 8;
    case GgufValueType::kString:
    case GgufValueType::kArray:
      return 0;
  }
  return 0;
}

// Minimum size in bytes of one array element of `type`: a string needs at
// least its 8-byte length.
uint64_t MinElementSize(GgufValueType type) {
  return type == GgufValueType::kString ? 8 : FixedSize(type);
}

template <typename T>
T Load(const uint8_t* data) {
  T value;
  std::memcpy(&value, data, sizeof(value));
  return value;
}

// An integer metadata value of any width, widened to 64 bits.
struct WideInteger {
  bool is_signed = false;
  int64_t signed_value = 0;
  uint64_t unsigned_value = 0;

  template <typename T>
  bool FitsIn() const {
    return is_signed ? std::in_range<T>(signed_value) : std::in_range<T>(unsigned_value);
  }
  template <typename T>
  T As() const {
    return is_signed ? static_cast<T>(signed_value) : static_cast<T>(unsigned_value);
  }
  std::string ToString() const {
    return is_signed ? absl::StrCat(signed_value) : absl::StrCat(unsigned_value);
  }
};

WideInteger LoadInteger(GgufValueType type, const uint8_t* data) {
  WideInteger value;
  value.is_signed = true;
  switch (type) {
    case GgufValueType::kInt8:
      value.signed_value = Load<int8_t>(data);
      return value;
    case GgufValueType::kInt16:
      value.signed_value = Load<int16_t>(data);
      return value;
    case GgufValueType::kInt32:
      value.signed_value = Load<int32_t>(data);
      return value;
    case GgufValueType::kInt64:
      value.signed_value = Load<int64_t>(data);
      return value;
    default:
      break;
  }
  value.is_signed = false;
  switch (type) {
    case GgufValueType::kUint8:
      value.unsigned_value = Load<uint8_t>(data);
      break;
    case GgufValueType::kUint16:
      value.unsigned_value = Load<uint16_t>(data);
      break;
    case GgufValueType::kUint32:
      value.unsigned_value = Load<uint32_t>(data);
      break;
    case GgufValueType::kUint64:
      value.unsigned_value = Load<uint64_t>(data);
      break;
    default:
      break;
  }
  return value;
}

double LoadFloat(GgufValueType type, const uint8_t* data) {
  return type == GgufValueType::kFloat32 ? Load<float>(data) : Load<double>(data);
}

// Formats a shape as "[64, 512]".
std::string FormatDims(const std::vector<uint64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ", "), "]");
}

// Quotes and escapes a string for a message, shortening it past
// kDescribedStringBytes.
std::string QuoteForMessage(absl::string_view text) {
  if (text.size() <= kDescribedStringBytes) return absl::StrCat("\"", absl::CHexEscape(text), "\"");
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kDescribedStringBytes)), "\"... (",
                      text.size(), " bytes)");
}

std::string SupportedTensorTypes() { return "F32 (0), F16 (1) and BF16 (30)"; }

}  // namespace

const char* GgufValueTypeName(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
      return "uint8";
    case GgufValueType::kInt8:
      return "int8";
    case GgufValueType::kUint16:
      return "uint16";
    case GgufValueType::kInt16:
      return "int16";
    case GgufValueType::kUint32:
      return "uint32";
    case GgufValueType::kInt32:
      return "int32";
    case GgufValueType::kFloat32:
      return "float32";
    case GgufValueType::kBool:
      return "bool";
    case GgufValueType::kString:
      return "string";
    case GgufValueType::kArray:
      return "array";
    case GgufValueType::kUint64:
      return "uint64";
    case GgufValueType::kInt64:
      return "int64";
    case GgufValueType::kFloat64:
      return "float64";
  }
  return "unknown";
}

const char* GgmlTypeName(uint32_t type) {
  // Indexed by enum ggml_type of ggml's ggml.h. Numbers 4, 5, 31-33 and
  // 36-38 belong to types that ggml has since removed. Their old names stay
  // so that an error message can still name the type an old file contains.
  static constexpr const char* kNames[] = {
      "F32",     "F16",        "Q4_0",       "Q4_1",       "Q4_2",    "Q4_3",   "Q5_0",
      "Q5_1",    "Q8_0",       "Q8_1",       "Q2_K",       "Q3_K",    "Q4_K",   "Q5_K",
      "Q6_K",    "Q8_K",       "IQ2_XXS",    "IQ2_XS",     "IQ3_XXS", "IQ1_S",  "IQ4_NL",
      "IQ3_S",   "IQ2_S",      "IQ4_XS",     "I8",         "I16",     "I32",    "I64",
      "F64",     "IQ1_M",      "BF16",       "Q4_0_4_4",   "Q4_0_4_8", "Q4_0_8_8", "TQ1_0",
      "TQ2_0",   "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4",   "NVFP4",  "Q1_0",
  };
  if (type >= std::size(kNames)) return "unknown";
  return kNames[type];
}

size_t GgufTensorTypeSize(GgufTensorType type) { return type == GgufTensorType::kF32 ? 4 : 2; }

float HalfToFloat(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in f32.
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 0x1f) {
    // Infinity or NaN; a NaN keeps its payload.
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  }
  // Rebias the exponent from 15 to 127.
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

float Bf16ToFloat(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

class GgufFile::Cursor {
 public:
  Cursor(absl::Span<const uint8_t> bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  size_t offset() const { return offset_; }
  size_t remaining() const { return bytes_.size() - offset_; }
  const uint8_t* position() const { return bytes_.data() + offset_; }

  absl::Status Require(uint64_t count, FieldName field) const {
    if (count <= remaining()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(
        path_, ": file is truncated: ", field(), " needs ", count, " bytes at offset ", offset_,
        " but the file has ", remaining(), " bytes left (file size ", bytes_.size(), ")"));
  }

  absl::Status Skip(uint64_t count, FieldName field) {
    RETURN_IF_ERROR(Require(count, field));
    offset_ += count;
    return absl::OkStatus();
  }

  template <typename T>
  absl::StatusOr<T> Read(FieldName field) {
    RETURN_IF_ERROR(Require(sizeof(T), field));
    T value = Load<T>(position());
    offset_ += sizeof(T);
    return value;
  }

  // Reads a GGUF string: a uint64 length, then that many bytes. The result
  // points into the mapping.
  absl::StatusOr<absl::string_view> ReadString(FieldName field) {
    ASSIGN_OR_RETURN(uint64_t length,
                     Read<uint64_t>([&] { return absl::StrCat("the length of ", field()); }));
    RETURN_IF_ERROR(Require(length, field));
    absl::string_view text(reinterpret_cast<const char*>(position()), length);
    offset_ += length;
    return text;
  }

 private:
  absl::Span<const uint8_t> bytes_;
  const std::string& path_;
  size_t offset_ = 0;
};

absl::StatusOr<GgufFile> GgufFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(path));
  GgufFile file(std::move(mapped));
  RETURN_IF_ERROR(file.Parse());
  return file;
}

absl::StatusOr<GgufFile> GgufFile::FromMemory(absl::Span<const uint8_t> bytes,
                                              std::string name) {
  GgufFile file(MappedFile::FromMemory(bytes, std::move(name)));
  RETURN_IF_ERROR(file.Parse());
  return file;
}

absl::Status GgufFile::Parse() {
  Cursor cursor(file_.bytes(), path());

  RETURN_IF_ERROR(cursor.Require(sizeof(kMagic), [] { return std::string("the magic"); }));
  absl::string_view magic(reinterpret_cast<const char*>(cursor.position()), sizeof(kMagic));
  if (magic != absl::string_view(kMagic, sizeof(kMagic))) {
    return absl::InvalidArgumentError(absl::StrCat(path(), ": bad magic \"", absl::CHexEscape(magic),
                                                   "\", expected \"GGUF\"; is this a GGUF file?"));
  }
  RETURN_IF_ERROR(cursor.Skip(sizeof(kMagic), [] { return std::string("the magic"); }));

  ASSIGN_OR_RETURN(version_, cursor.Read<uint32_t>([] { return std::string("the version"); }));
  if (version_ == 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        path(), ": GGUF version 1 is not supported (it stores counts and lengths as uint32); "
                "expected version 2 or 3. Convert the file with a current llama.cpp."));
  }
  if (version_ != 2 && version_ != 3) {
    uint32_t swapped = __builtin_bswap32(version_);
    if (swapped == 2 || swapped == 3) {
      return absl::InvalidArgumentError(
          absl::StrCat(path(), ": GGUF version field is ", version_, " (", swapped,
                       " byte-swapped), so the file is big-endian; only little-endian GGUF "
                       "files are supported"));
    }
    return absl::InvalidArgumentError(absl::StrCat(path(), ": GGUF version ", version_,
                                                   " is not supported, expected 2 or 3"));
  }

  ASSIGN_OR_RETURN(uint64_t tensor_count,
                   cursor.Read<uint64_t>([] { return std::string("the tensor count"); }));
  ASSIGN_OR_RETURN(uint64_t metadata_count,
                   cursor.Read<uint64_t>([] { return std::string("the metadata entry count"); }));

  RETURN_IF_ERROR(ParseMetadata(cursor, metadata_count));

  if (HasKey("general.alignment")) {
    ASSIGN_OR_RETURN(uint32_t alignment, GetUint32("general.alignment"));
    if (!std::has_single_bit(alignment)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path(), ": metadata key general.alignment is ", alignment,
                       ", expected a non-zero power of two"));
    }
    alignment_ = alignment;
  } else {
    alignment_ = kDefaultAlignment;
  }

  RETURN_IF_ERROR(ParseTensorInfos(cursor, tensor_count));

  // Both terms are far below 2^63: the offset is within the file and the
  // alignment fits uint32.
  data_offset_ = (cursor.offset() + alignment_ - 1) / alignment_ * alignment_;
  return ValidateTensorPlacement();
}

absl::Status GgufFile::ParseMetadata(Cursor& cursor, uint64_t count) {
  if (count > cursor.remaining() / kMinMetadataEntryBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        path(), ": header declares ", count, " metadata entries, but the ", cursor.remaining(),
        " bytes after the header can hold at most ", cursor.remaining() / kMinMetadataEntryBytes,
        " (each takes at least ", kMinMetadataEntryBytes, " bytes)"));
  }
  metadata_.reserve(count);
  metadata_index_.reserve(count);

  for (uint64_t i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(absl::string_view key, cursor.ReadString([&] {
      return absl::StrCat("the key of metadata entry ", i);
    }));
    if (metadata_index_.contains(key)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path(), ": metadata key ", key, " appears twice (entries ", metadata_index_.at(key),
          " and ", i, "), expected unique keys"));
    }

    MetadataEntry entry;
    entry.key = std::string(key);
    ASSIGN_OR_RETURN(uint32_t type, cursor.Read<uint32_t>([&] {
      return absl::StrCat("the value type of metadata key ", key);
    }));
    if (!IsKnownValueType(type)) {
      return absl::InvalidArgumentError(absl::StrCat(path(), ": metadata key ", key,
                                                     " has value type ", type,
                                                     ", expected a GGUF value type 0 to 12"));
    }
    entry.type = static_cast<GgufValueType>(type);

    if (entry.type == GgufValueType::kArray) {
      ASSIGN_OR_RETURN(uint32_t element_type, cursor.Read<uint32_t>([&] {
        return absl::StrCat("the array element type of metadata key ", key);
      }));
      if (element_type == static_cast<uint32_t>(GgufValueType::kArray)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path(), ": metadata key ", key,
                         " is an array of arrays; nested arrays are not supported"));
      }
      if (!IsKnownValueType(element_type)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path(), ": metadata key ", key, " has array element type ", element_type,
                         ", expected a GGUF value type 0 to 12"));
      }
      entry.element_type = static_cast<GgufValueType>(element_type);
      ASSIGN_OR_RETURN(entry.array_size, cursor.Read<uint64_t>([&] {
        return absl::StrCat("the array length of metadata key ", key);
      }));
      uint64_t min_size = MinElementSize(entry.element_type);
      if (entry.array_size > cursor.remaining() / min_size) {
        return absl::InvalidArgumentError(absl::StrCat(
            path(), ": metadata key ", key, " declares an array of ", entry.array_size, " ",
            GgufValueTypeName(entry.element_type), " values at offset ", cursor.offset(),
            ", but the ", cursor.remaining(), " bytes left in the file can hold at most ",
            cursor.remaining() / min_size, " (each takes at least ", min_size, " bytes)"));
      }
    }

    entry.offset = cursor.offset();
    RETURN_IF_ERROR(SkipValue(cursor, entry));
    metadata_index_.emplace(entry.key, metadata_.size());
    metadata_.push_back(std::move(entry));
  }
  return absl::OkStatus();
}

// Moves the cursor past the value of `entry`, checking every string length
// and bool byte on the way.
absl::Status GgufFile::SkipValue(Cursor& cursor, const MetadataEntry& entry) {
  bool is_array = entry.type == GgufValueType::kArray;
  GgufValueType type = is_array ? entry.element_type : entry.type;
  uint64_t count = is_array ? entry.array_size : 1;
  auto field = [&](uint64_t i) {
    return is_array ? absl::StrCat("element ", i, " of metadata key ", entry.key)
                    : absl::StrCat("the value of metadata key ", entry.key);
  };

  if (type == GgufValueType::kString) {
    for (uint64_t i = 0; i < count; ++i) {
      RETURN_IF_ERROR(cursor.ReadString([&] { return field(i); }).status());
    }
    return absl::OkStatus();
  }

  // The array length was checked against the remaining bytes, so this
  // product does not overflow.
  uint64_t size = count * FixedSize(type);
  RETURN_IF_ERROR(cursor.Require(size, [&] {
    return is_array ? absl::StrCat("the ", count, " elements of metadata key ", entry.key)
                    : field(0);
  }));
  if (type == GgufValueType::kBool) {
    const uint8_t* values = cursor.position();
    for (uint64_t i = 0; i < count; ++i) {
      if (values[i] > 1) {
        return absl::InvalidArgumentError(absl::StrCat(path(), ": ", field(i), " is a bool of value ",
                                                       static_cast<int>(values[i]),
                                                       ", expected 0 or 1"));
      }
    }
  }
  return cursor.Skip(size, [&] { return field(0); });
}

absl::Status GgufFile::ParseTensorInfos(Cursor& cursor, uint64_t count) {
  if (count > cursor.remaining() / kMinTensorInfoBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        path(), ": header declares ", count, " tensors, but the ", cursor.remaining(),
        " bytes after the metadata can hold at most ", cursor.remaining() / kMinTensorInfoBytes,
        " tensor infos (each takes at least ", kMinTensorInfoBytes, " bytes)"));
  }
  tensors_.reserve(count);
  tensor_index_.reserve(count);

  for (uint64_t i = 0; i < count; ++i) {
    GgufTensorInfo tensor;
    ASSIGN_OR_RETURN(absl::string_view name, cursor.ReadString([&] {
      return absl::StrCat("the name of tensor info ", i);
    }));
    if (tensor_index_.contains(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path(), ": tensor name ", name, " appears twice (tensor infos ", tensor_index_.at(name),
          " and ", i, "), expected unique names"));
    }
    tensor.name = std::string(name);

    ASSIGN_OR_RETURN(uint32_t n_dims, cursor.Read<uint32_t>([&] {
      return absl::StrCat("n_dims of tensor ", name);
    }));
    if (n_dims > kMaxDims) {
      return absl::InvalidArgumentError(absl::StrCat(path(), ": tensor ", name, " has n_dims ",
                                                     n_dims, ", expected at most ", kMaxDims));
    }
    for (uint32_t d = 0; d < n_dims; ++d) {
      ASSIGN_OR_RETURN(uint64_t dim, cursor.Read<uint64_t>([&] {
        return absl::StrCat("dimension ", d, " of tensor ", name);
      }));
      tensor.dims.push_back(dim);
    }
    tensor.element_count = 1;
    for (uint64_t dim : tensor.dims) {
      if (dim == 0) {
        return absl::InvalidArgumentError(absl::StrCat(path(), ": tensor ", name, " has dims ",
                                                       FormatDims(tensor.dims),
                                                       ", expected every dimension to be at least 1"));
      }
      if (__builtin_mul_overflow(tensor.element_count, dim, &tensor.element_count)) {
        return absl::InvalidArgumentError(
            absl::StrCat(path(), ": tensor ", name, " has dims ", FormatDims(tensor.dims),
                         ", whose element count does not fit 64 bits"));
      }
    }

    ASSIGN_OR_RETURN(uint32_t type, cursor.Read<uint32_t>([&] {
      return absl::StrCat("the type of tensor ", name);
    }));
    if (type != static_cast<uint32_t>(GgufTensorType::kF32) &&
        type != static_cast<uint32_t>(GgufTensorType::kF16) &&
        type != static_cast<uint32_t>(GgufTensorType::kBF16)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path(), ": tensor ", name, " has type ", type, " (", GgmlTypeName(type),
          "), which is not supported; supported types are ", SupportedTensorTypes()));
    }
    tensor.type = static_cast<GgufTensorType>(type);
    if (__builtin_mul_overflow(tensor.element_count, GgufTensorTypeSize(tensor.type),
                               &tensor.size_bytes)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path(), ": tensor ", name, " has dims ", FormatDims(tensor.dims), " of type ",
                       GgmlTypeName(type), ", whose size in bytes does not fit 64 bits"));
    }

    // Relative to the data section until ValidateTensorPlacement.
    ASSIGN_OR_RETURN(tensor.offset, cursor.Read<uint64_t>([&] {
      return absl::StrCat("the offset of tensor ", name);
    }));

    tensor_index_.emplace(tensor.name, tensors_.size());
    tensors_.push_back(std::move(tensor));
  }
  return absl::OkStatus();
}

// Turns each tensor's offset into an absolute one and checks that its data
// is aligned, lies inside the file and overlaps no other tensor's data.
absl::Status GgufFile::ValidateTensorPlacement() {
  const uint64_t file_size = file_.bytes().size();
  for (GgufTensorInfo& tensor : tensors_) {
    uint64_t relative = tensor.offset;
    if (relative % alignment_ != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          path(), ": tensor ", tensor.name, " has data offset ", relative,
          ", expected a multiple of the alignment ", alignment_));
    }
    uint64_t begin = 0;
    uint64_t end = 0;
    if (__builtin_add_overflow(data_offset_, relative, &begin) ||
        __builtin_add_overflow(begin, tensor.size_bytes, &end) || end > file_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          path(), ": tensor ", tensor.name, " (", FormatDims(tensor.dims), " ",
          GgmlTypeName(static_cast<uint32_t>(tensor.type)), ", ", tensor.size_bytes,
          " bytes) has data offset ", relative, " in the data section at ", data_offset_,
          ", which ends past the end of the file (", file_size,
          " bytes); expected the data inside the file. Is the file truncated?"));
    }
    tensor.offset = begin;
  }

  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const GgufTensorInfo& tensor : tensors_) by_offset.push_back(&tensor);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& previous = *by_offset[i - 1];
    const GgufTensorInfo& next = *by_offset[i];
    if (previous.offset + previous.size_bytes > next.offset) {
      return absl::InvalidArgumentError(absl::StrCat(
          path(), ": the data of tensors ", previous.name, " (bytes ", previous.offset, " to ",
          previous.offset + previous.size_bytes, ") and ", next.name, " (from byte ", next.offset,
          ") overlap, expected separate data for each tensor"));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> GgufFile::MetadataKeys() const {
  std::vector<std::string> keys;
  keys.reserve(metadata_.size());
  for (const MetadataEntry& entry : metadata_) keys.push_back(entry.key);
  return keys;
}

bool GgufFile::HasKey(absl::string_view key) const { return metadata_index_.contains(key); }

std::optional<GgufValueType> GgufFile::ValueType(absl::string_view key) const {
  auto it = metadata_index_.find(key);
  if (it == metadata_index_.end()) return std::nullopt;
  return metadata_[it->second].type;
}

std::string GgufFile::DescribeValue(absl::string_view key) const {
  auto it = metadata_index_.find(key);
  if (it == metadata_index_.end()) return "(missing)";
  return Describe(metadata_[it->second]);
}

std::pair<std::string, size_t> GgufFile::StringAt(size_t offset) const {
  const uint8_t* data = file_.bytes().data();
  uint64_t length = Load<uint64_t>(data + offset);
  std::string text(reinterpret_cast<const char*>(data + offset + 8), length);
  return {std::move(text), offset + 8 + length};
}

std::pair<std::string, size_t> GgufFile::DescribeElement(GgufValueType type, size_t offset) const {
  const uint8_t* data = file_.bytes().data() + offset;
  if (type == GgufValueType::kString) {
    uint64_t length = Load<uint64_t>(data);
    absl::string_view text(reinterpret_cast<const char*>(data + 8), length);
    return {QuoteForMessage(text), offset + 8 + length};
  }
  size_t next = offset + FixedSize(type);
  if (type == GgufValueType::kBool) return {*data != 0 ? "true" : "false", next};
  if (IsFloat(type)) return {absl::StrCat(LoadFloat(type, data)), next};
  return {LoadInteger(type, data).ToString(), next};
}

std::string GgufFile::Describe(const MetadataEntry& entry) const {
  if (entry.type != GgufValueType::kArray) {
    return absl::StrCat(GgufValueTypeName(entry.type), " ",
                        DescribeElement(entry.type, entry.offset).first);
  }
  std::string text = absl::StrCat("array of ", entry.array_size, " ",
                                  GgufValueTypeName(entry.element_type));
  size_t offset = entry.offset;
  uint64_t described_count = std::min<uint64_t>(entry.array_size, kDescribedElements);
  for (uint64_t i = 0; i < described_count; ++i) {
    auto [element, next] = DescribeElement(entry.element_type, offset);
    absl::StrAppend(&text, i == 0 ? ": " : ", ", element);
    offset = next;
  }
  if (entry.array_size > described_count) absl::StrAppend(&text, ", ...");
  return text;
}

absl::StatusOr<const GgufFile::MetadataEntry*> GgufFile::FindEntry(
    absl::string_view key, absl::string_view expected_type) const {
  auto it = metadata_index_.find(key);
  if (it == metadata_index_.end()) {
    return absl::NotFoundError(
        absl::StrCat(path(), ": missing metadata key ", key, " (expected ", expected_type, ")"));
  }
  return &metadata_[it->second];
}

absl::Status GgufFile::WrongType(const MetadataEntry& entry,
                                 absl::string_view expected_type) const {
  return absl::InvalidArgumentError(absl::StrCat(path(), ": metadata key ", entry.key, " is ",
                                                 Describe(entry), ", expected ", expected_type));
}

absl::StatusOr<std::string> GgufFile::GetString(absl::string_view key) const {
  ASSIGN_OR_RETURN(const MetadataEntry* entry, FindEntry(key, "string"));
  if (entry->type != GgufValueType::kString) return WrongType(*entry, "string");
  return StringAt(entry->offset).first;
}

template <typename T>
absl::StatusOr<T> GgufFile::GetInteger(absl::string_view key,
                                       absl::string_view expected_type) const {
  ASSIGN_OR_RETURN(const MetadataEntry* entry, FindEntry(key, expected_type));
  if (!IsInteger(entry->type)) {
    return WrongType(*entry, absl::StrCat("an integer that fits ", expected_type));
  }
  WideInteger value = LoadInteger(entry->type, file_.bytes().data() + entry->offset);
  if (!value.FitsIn<T>()) {
    return absl::InvalidArgumentError(absl::StrCat(path(), ": metadata key ", key, " is ",
                                                   GgufValueTypeName(entry->type), " ",
                                                   value.ToString(), ", which does not fit ",
                                                   expected_type));
  }
  return value.As<T>();
}

absl::StatusOr<uint32_t> GgufFile::GetUint32(absl::string_view key) const {
  return GetInteger<uint32_t>(key, "uint32");
}

absl::StatusOr<uint64_t> GgufFile::GetUint64(absl::string_view key) const {
  return GetInteger<uint64_t>(key, "uint64");
}

absl::StatusOr<int32_t> GgufFile::GetInt32(absl::string_view key) const {
  return GetInteger<int32_t>(key, "int32");
}

absl::StatusOr<int64_t> GgufFile::GetInt64(absl::string_view key) const {
  return GetInteger<int64_t>(key, "int64");
}

absl::StatusOr<double> GgufFile::GetFloat64(absl::string_view key) const {
  ASSIGN_OR_RETURN(const MetadataEntry* entry, FindEntry(key, "float64"));
  if (!IsFloat(entry->type)) return WrongType(*entry, "float32 or float64");
  return LoadFloat(entry->type, file_.bytes().data() + entry->offset);
}

absl::StatusOr<float> GgufFile::GetFloat32(absl::string_view key) const {
  ASSIGN_OR_RETURN(const MetadataEntry* entry, FindEntry(key, "float32"));
  if (!IsFloat(entry->type)) return WrongType(*entry, "float32 or float64");
  double value = LoadFloat(entry->type, file_.bytes().data() + entry->offset);
  float narrowed = static_cast<float>(value);
  if (std::isfinite(value) && !std::isfinite(narrowed)) {
    return absl::InvalidArgumentError(absl::StrCat(path(), ": metadata key ", key,
                                                   " is float64 ", value,
                                                   ", which is outside the float32 range"));
  }
  return narrowed;
}

absl::StatusOr<bool> GgufFile::GetBool(absl::string_view key) const {
  ASSIGN_OR_RETURN(const MetadataEntry* entry, FindEntry(key, "bool"));
  if (entry->type != GgufValueType::kBool) return WrongType(*entry, "bool");
  return file_.bytes()[entry->offset] != 0;
}

absl::StatusOr<std::vector<std::string>> GgufFile::GetStringArray(absl::string_view key) const {
  ASSIGN_OR_RETURN(const MetadataEntry* entry, FindEntry(key, "array of string"));
  if (entry->type != GgufValueType::kArray || entry->element_type != GgufValueType::kString) {
    return WrongType(*entry, "array of string");
  }
  // Parse checked that the file contains all array_size strings.
  std::vector<std::string> values;
  values.reserve(entry->array_size);
  size_t offset = entry->offset;
  for (uint64_t i = 0; i < entry->array_size; ++i) {
    auto [text, next] = StringAt(offset);
    values.push_back(std::move(text));
    offset = next;
  }
  return values;
}

template <typename T>
absl::StatusOr<std::vector<T>> GgufFile::GetIntegerArray(absl::string_view key,
                                                         absl::string_view expected_type) const {
  std::string expected = absl::StrCat("array of ", expected_type);
  ASSIGN_OR_RETURN(const MetadataEntry* entry, FindEntry(key, expected));
  if (entry->type != GgufValueType::kArray || !IsInteger(entry->element_type)) {
    return WrongType(*entry, absl::StrCat("an array of integers that fit ", expected_type));
  }
  size_t element_size = FixedSize(entry->element_type);
  const uint8_t* data = file_.bytes().data() + entry->offset;
  std::vector<T> values;
  values.reserve(entry->array_size);
  for (uint64_t i = 0; i < entry->array_size; ++i) {
    WideInteger value = LoadInteger(entry->element_type, data + i * element_size);
    if (!value.FitsIn<T>()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path(), ": element ", i, " of metadata key ", key, " is ",
          GgufValueTypeName(entry->element_type), " ", value.ToString(), ", which does not fit ",
          expected_type));
    }
    values.push_back(value.As<T>());
  }
  return values;
}

template <typename T>
absl::StatusOr<std::vector<T>> GgufFile::GetFloatArray(absl::string_view key,
                                                       absl::string_view expected_type) const {
  std::string expected = absl::StrCat("array of ", expected_type);
  ASSIGN_OR_RETURN(const MetadataEntry* entry, FindEntry(key, expected));
  if (entry->type != GgufValueType::kArray || !IsFloat(entry->element_type)) {
    return WrongType(*entry, "an array of float32 or float64");
  }
  size_t element_size = FixedSize(entry->element_type);
  const uint8_t* data = file_.bytes().data() + entry->offset;
  std::vector<T> values;
  values.reserve(entry->array_size);
  for (uint64_t i = 0; i < entry->array_size; ++i) {
    values.push_back(static_cast<T>(LoadFloat(entry->element_type, data + i * element_size)));
  }
  return values;
}

absl::StatusOr<std::vector<float>> GgufFile::GetFloat32Array(absl::string_view key) const {
  return GetFloatArray<float>(key, "float32");
}

absl::StatusOr<std::vector<double>> GgufFile::GetFloat64Array(absl::string_view key) const {
  return GetFloatArray<double>(key, "float64");
}

absl::StatusOr<std::vector<int32_t>> GgufFile::GetInt32Array(absl::string_view key) const {
  return GetIntegerArray<int32_t>(key, "int32");
}

absl::StatusOr<std::vector<int64_t>> GgufFile::GetInt64Array(absl::string_view key) const {
  return GetIntegerArray<int64_t>(key, "int64");
}

absl::StatusOr<std::vector<uint64_t>> GgufFile::GetUint64Array(absl::string_view key) const {
  return GetIntegerArray<uint64_t>(key, "uint64");
}

absl::StatusOr<std::vector<bool>> GgufFile::GetBoolArray(absl::string_view key) const {
  ASSIGN_OR_RETURN(const MetadataEntry* entry, FindEntry(key, "array of bool"));
  if (entry->type != GgufValueType::kArray || entry->element_type != GgufValueType::kBool) {
    return WrongType(*entry, "array of bool");
  }
  const uint8_t* data = file_.bytes().data() + entry->offset;
  std::vector<bool> values(entry->array_size);
  for (uint64_t i = 0; i < entry->array_size; ++i) values[i] = data[i] != 0;
  return values;
}

const GgufTensorInfo* GgufFile::FindTensor(absl::string_view name) const {
  auto it = tensor_index_.find(name);
  if (it == tensor_index_.end()) return nullptr;
  return &tensors_[it->second];
}

absl::Span<const uint8_t> GgufFile::TensorBytes(const GgufTensorInfo& tensor) const {
  return file_.bytes().subspan(tensor.offset, tensor.size_bytes);
}

absl::StatusOr<std::vector<float>> GgufFile::ReadTensorF32(
    absl::string_view name, const std::vector<uint64_t>& expected_dims) const {
  const GgufTensorInfo* tensor = FindTensor(name);
  if (tensor == nullptr) {
    return absl::NotFoundError(absl::StrCat(path(), ": missing tensor ", name,
                                            " (expected shape ", FormatDims(expected_dims), ")"));
  }
  if (tensor->dims != expected_dims) {
    return absl::InvalidArgumentError(absl::StrCat(path(), ": tensor ", name, " has shape ",
                                                   FormatDims(tensor->dims), ", expected ",
                                                   FormatDims(expected_dims)));
  }

  const uint8_t* data = TensorBytes(*tensor).data();
  std::vector<float> values(tensor->element_count);
  switch (tensor->type) {
    case GgufTensorType::kF32:
      std::memcpy(values.data(), data, tensor->size_bytes);
      break;
    case GgufTensorType::kF16:
      for (uint64_t i = 0; i < tensor->element_count; ++i) {
        values[i] = HalfToFloat(Load<uint16_t>(data + 2 * i));
      }
      break;
    case GgufTensorType::kBF16:
      for (uint64_t i = 0; i < tensor->element_count; ++i) {
        values[i] = Bf16ToFloat(Load<uint16_t>(data + 2 * i));
      }
      break;
  }
  return values;
}

}  // namespace textgen
