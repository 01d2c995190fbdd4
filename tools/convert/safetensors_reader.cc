#include "tools/convert/safetensors_reader.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/format/gguf_reader.h"
#include "engine/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace textgen {
namespace {

// The reference implementation (huggingface/safetensors) rejects headers
// above 100 MB; real headers are a few MB at most.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;
constexpr char kMetadataKey[] = "__metadata__";

struct DtypeInfo {
  SafetensorsDtype dtype;
  const char* name;
  uint64_t size;  // bytes per element
};

constexpr DtypeInfo kDtypes[] = {
    {SafetensorsDtype::kBool, "BOOL", 1},      {SafetensorsDtype::kU8, "U8", 1},
    {SafetensorsDtype::kI8, "I8", 1},          {SafetensorsDtype::kF8E5M2, "F8_E5M2", 1},
    {SafetensorsDtype::kF8E4M3, "F8_E4M3", 1}, {SafetensorsDtype::kI16, "I16", 2},
    {SafetensorsDtype::kU16, "U16", 2},        {SafetensorsDtype::kF16, "F16", 2},
    {SafetensorsDtype::kBF16, "BF16", 2},      {SafetensorsDtype::kI32, "I32", 4},
    {SafetensorsDtype::kU32, "U32", 4},        {SafetensorsDtype::kF32, "F32", 4},
    {SafetensorsDtype::kF64, "F64", 8},        {SafetensorsDtype::kI64, "I64", 8},
    {SafetensorsDtype::kU64, "U64", 8},
};

const DtypeInfo* FindDtype(absl::string_view name) {
  for (const DtypeInfo& info : kDtypes) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

const DtypeInfo& InfoOf(SafetensorsDtype dtype) {
  for (const DtypeInfo& info : kDtypes) {
    if (info.dtype == dtype) return info;
  }
  return kDtypes[0];  // Unreachable: every enumerator is in kDtypes.
}

std::string DtypeNames() {
  std::vector<std::string> names;
  for (const DtypeInfo& info : kDtypes) names.push_back(info.name);
  return absl::StrJoin(names, ", ");
}

std::string FormatShape(const std::vector<uint64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// Parses one tensor entry of the header. Offsets stay relative to the data
// section; the caller checks them against its size.
absl::StatusOr<SafetensorsTensor> ParseTensorEntry(const std::string& path,
                                                   const std::string& name,
                                                   const nlohmann::json& entry) {
  const std::string where = absl::StrCat(path, ": tensor ", name);
  if (!entry.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, " has header entry ", entry.dump(), ", expected an object with dtype, shape and "
                                                   "data_offsets"));
  }
  SafetensorsTensor tensor;
  tensor.name = name;

  auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end() || !dtype_it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": dtype is missing or not a string, expected one of ", DtypeNames()));
  }
  const std::string dtype_name = dtype_it->get<std::string>();
  const DtypeInfo* dtype = FindDtype(dtype_name);
  if (dtype == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": dtype is \"", dtype_name,
                                                   "\", expected one of ", DtypeNames()));
  }
  tensor.dtype = dtype->dtype;

  auto shape_it = entry.find("shape");
  if (shape_it == entry.end() || !shape_it->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": shape is missing or not an array, expected a list of sizes"));
  }
  tensor.element_count = 1;
  for (const nlohmann::json& size : *shape_it) {
    if (!size.is_number_unsigned()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": shape is ", shape_it->dump(),
                                                     ", expected non-negative integers"));
    }
    const uint64_t value = size.get<uint64_t>();
    if (__builtin_mul_overflow(tensor.element_count, value, &tensor.element_count)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": shape ", shape_it->dump(), " has more elements than 64 bits can count"));
    }
    tensor.shape.push_back(value);
  }

  auto offsets_it = entry.find("data_offsets");
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": data_offsets is ", offsets_it == entry.end() ? "missing" : offsets_it->dump(),
        ", expected [begin, end] with non-negative integers"));
  }
  tensor.begin = (*offsets_it)[0].get<uint64_t>();
  tensor.end = (*offsets_it)[1].get<uint64_t>();
  if (tensor.end < tensor.begin) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": data_offsets is [", tensor.begin,
                                                   ", ", tensor.end,
                                                   "], expected begin <= end"));
  }

  uint64_t expected_bytes = 0;
  if (__builtin_mul_overflow(tensor.element_count, dtype->size, &expected_bytes) ||
      tensor.end - tensor.begin != expected_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": data_offsets [", tensor.begin, ", ", tensor.end, "] span ",
        tensor.end - tensor.begin, " bytes, expected ", tensor.element_count, " elements of ",
        dtype->name, " (", dtype->size, " bytes each) for shape ", FormatShape(tensor.shape)));
  }
  return tensor;
}

}  // namespace

const char* SafetensorsDtypeName(SafetensorsDtype dtype) { return InfoOf(dtype).name; }

absl::StatusOr<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::Open(path));
  SafetensorsFile file(std::move(mapped));
  RETURN_IF_ERROR(file.Parse());
  return file;
}

absl::Status SafetensorsFile::Parse() {
  absl::Span<const uint8_t> bytes = file_.bytes();
  if (bytes.size() < 8) {
    return absl::InvalidArgumentError(
        absl::StrCat(path(), ": file is ", bytes.size(),
                     " bytes long, expected at least the 8-byte header length of a "
                     "safetensors file"));
  }
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), sizeof(header_size));
  if (header_size > kMaxHeaderBytes || header_size > bytes.size() - 8) {
    return absl::InvalidArgumentError(absl::StrCat(
        path(), ": header length is ", header_size, " bytes, expected at most ",
        std::min<uint64_t>(kMaxHeaderBytes, bytes.size() - 8),
        " (the file size minus 8, and 100 MB); is the file truncated or not safetensors?"));
  }
  if (header_size == 0 || bytes[8] != '{') {
    return absl::InvalidArgumentError(
        absl::StrCat(path(), ": header does not start with '{', expected a JSON object"));
  }
  data_offset_ = 8 + header_size;
  data_size_ = bytes.size() - data_offset_;

  const char* header_begin = reinterpret_cast<const char*>(bytes.data() + 8);
  nlohmann::json header = nlohmann::json::parse(header_begin, header_begin + header_size,
                                                /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path(), ": header is not a valid UTF-8 JSON object"));
  }

  for (auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      if (!entry.is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(
            path(), ": ", kMetadataKey, " is ", entry.dump(), ", expected an object of strings"));
      }
      for (auto& [key, value] : entry.items()) {
        if (!value.is_string()) {
          return absl::InvalidArgumentError(absl::StrCat(path(), ": ", kMetadataKey, ".", key,
                                                         " is ", value.dump(),
                                                         ", expected a string"));
        }
        metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    ASSIGN_OR_RETURN(SafetensorsTensor tensor, ParseTensorEntry(path(), name, entry));
    if (tensor.end > data_size_) {
      return absl::InvalidArgumentError(absl::StrCat(
          path(), ": tensor ", name, " has data_offsets [", tensor.begin, ", ", tensor.end,
          "], expected them inside the data section of ", data_size_,
          " bytes; is the file truncated?"));
    }
    tensors_.push_back(std::move(tensor));
  }

  // The format requires the tensors to cover the data section exactly: in
  // data order, each starts where the previous one ends.
  std::sort(tensors_.begin(), tensors_.end(),
            [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  uint64_t expected_begin = 0;
  for (const SafetensorsTensor& tensor : tensors_) {
    if (tensor.begin != expected_begin) {
      return absl::InvalidArgumentError(absl::StrCat(
          path(), ": tensor ", tensor.name, " starts at data offset ", tensor.begin,
          ", expected ", expected_begin, " (tensors must cover the data section without ",
          tensor.begin < expected_begin ? "overlapping" : "gaps", ")"));
    }
    expected_begin = tensor.end;
  }
  if (expected_begin != data_size_) {
    return absl::InvalidArgumentError(absl::StrCat(
        path(), ": tensors end at data offset ", expected_begin, ", but the data section has ",
        data_size_, " bytes; expected no bytes after the last tensor"));
  }

  for (size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
  return absl::OkStatus();
}

const SafetensorsTensor* SafetensorsFile::Find(absl::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

absl::Span<const uint8_t> SafetensorsFile::TensorBytes(const SafetensorsTensor& tensor) const {
  return file_.bytes().subspan(data_offset_ + tensor.begin, tensor.end - tensor.begin);
}

absl::StatusOr<std::vector<float>> SafetensorsFile::ReadF32(const SafetensorsTensor& tensor) const {
  const uint8_t* data = TensorBytes(tensor).data();
  std::vector<float> values(tensor.element_count);
  // Data offsets need not be aligned, so every element is copied bytewise.
  switch (tensor.dtype) {
    case SafetensorsDtype::kF32:
      std::memcpy(values.data(), data, values.size() * sizeof(float));
      return values;
    case SafetensorsDtype::kF16:
    case SafetensorsDtype::kBF16: {
      const bool is_half = tensor.dtype == SafetensorsDtype::kF16;
      for (size_t i = 0; i < values.size(); ++i) {
        uint16_t bits;
        std::memcpy(&bits, data + 2 * i, sizeof(bits));
        values[i] = is_half ? HalfToFloat(bits) : Bf16ToFloat(bits);
      }
      return values;
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          path(), ": tensor ", tensor.name, " has dtype ", SafetensorsDtypeName(tensor.dtype),
          ", expected F32, F16 or BF16"));
  }
}

}  // namespace textgen
