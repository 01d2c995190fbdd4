#include "tools/convert/tokenizer_metadata.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "engine/util/status_macros.h"

namespace textgen {
namespace {

absl::Status CheckId(const std::string& source, const char* name, int32_t id, size_t size) {
  if (id < 0 || static_cast<size_t>(id) >= size) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", name, " is ", id,
                                                   ", expected an id from 0 to ", size - 1));
  }
  return absl::OkStatus();
}

absl::Status CopyScalar(const GgufFile& source, const std::string& key, GgufValueType type,
                        GgufWriter& writer) {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kUint16:
    case GgufValueType::kUint32:
    case GgufValueType::kUint64: {
      ASSIGN_OR_RETURN(uint64_t value, source.GetUint64(key));
      if (type == GgufValueType::kUint8) writer.SetUint8(key, static_cast<uint8_t>(value));
      if (type == GgufValueType::kUint16) writer.SetUint16(key, static_cast<uint16_t>(value));
      if (type == GgufValueType::kUint32) writer.SetUint32(key, static_cast<uint32_t>(value));
      if (type == GgufValueType::kUint64) writer.SetUint64(key, value);
      return absl::OkStatus();
    }
    case GgufValueType::kInt8:
    case GgufValueType::kInt16:
    case GgufValueType::kInt32:
    case GgufValueType::kInt64: {
      ASSIGN_OR_RETURN(int64_t value, source.GetInt64(key));
      if (type == GgufValueType::kInt8) writer.SetInt8(key, static_cast<int8_t>(value));
      if (type == GgufValueType::kInt16) writer.SetInt16(key, static_cast<int16_t>(value));
      if (type == GgufValueType::kInt32) writer.SetInt32(key, static_cast<int32_t>(value));
      if (type == GgufValueType::kInt64) writer.SetInt64(key, value);
      return absl::OkStatus();
    }
    case GgufValueType::kFloat32: {
      ASSIGN_OR_RETURN(float value, source.GetFloat32(key));
      writer.SetFloat32(key, value);
      return absl::OkStatus();
    }
    case GgufValueType::kFloat64: {
      ASSIGN_OR_RETURN(double value, source.GetFloat64(key));
      writer.SetFloat64(key, value);
      return absl::OkStatus();
    }
    case GgufValueType::kBool: {
      ASSIGN_OR_RETURN(bool value, source.GetBool(key));
      writer.SetBool(key, value);
      return absl::OkStatus();
    }
    case GgufValueType::kString: {
      ASSIGN_OR_RETURN(std::string value, source.GetString(key));
      writer.SetString(key, value);
      return absl::OkStatus();
    }
    case GgufValueType::kArray:
      break;
  }
  return absl::InternalError(absl::StrCat(source.path(), ": metadata key ", key,
                                          " is not a scalar"));
}

// GgufFile does not expose an array's element type, so this tries the typed
// getters from the most to the least specific: each fails with
// InvalidArgument on elements of another kind.
absl::Status CopyArray(const GgufFile& source, const std::string& key, GgufWriter& writer) {
  if (absl::StatusOr<std::vector<std::string>> strings = source.GetStringArray(key); strings.ok()) {
    writer.SetStringArray(key, *strings);
    return absl::OkStatus();
  }
  if (absl::StatusOr<std::vector<bool>> booleans = source.GetBoolArray(key); booleans.ok()) {
    // std::vector<bool> has no contiguous storage to pass as a span.
    std::unique_ptr<bool[]> values(new bool[booleans->size()]);
    for (size_t i = 0; i < booleans->size(); ++i) values[i] = (*booleans)[i];
    writer.SetBoolArray(key, absl::MakeConstSpan(values.get(), booleans->size()));
    return absl::OkStatus();
  }
  if (absl::StatusOr<std::vector<int32_t>> numbers = source.GetInt32Array(key); numbers.ok()) {
    writer.SetInt32Array(key, *numbers);
    return absl::OkStatus();
  }
  if (absl::StatusOr<std::vector<int64_t>> numbers = source.GetInt64Array(key); numbers.ok()) {
    writer.SetNumberArray<int64_t>(key, *numbers);
    return absl::OkStatus();
  }
  if (absl::StatusOr<std::vector<uint64_t>> numbers = source.GetUint64Array(key); numbers.ok()) {
    writer.SetNumberArray<uint64_t>(key, *numbers);
    return absl::OkStatus();
  }
  if (absl::StatusOr<std::vector<float>> numbers = source.GetFloat32Array(key); numbers.ok()) {
    writer.SetFloat32Array(key, *numbers);
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      source.path(), ": metadata key ", key, " is ", source.DescribeValue(key),
      ", expected an array of strings, booleans or numbers"));
}

}  // namespace

bool IsBytePiece(absl::string_view piece) {
  return piece.size() == 6 && absl::StartsWith(piece, "<0x") &&
         absl::ascii_isxdigit(static_cast<unsigned char>(piece[3])) &&
         absl::ascii_isxdigit(static_cast<unsigned char>(piece[4])) && piece[5] == '>';
}

void TokenizerMetadata::PadTo(size_t size) {
  float lowest_score = 0;
  for (float score : scores) lowest_score = std::min(lowest_score, score);
  while (tokens.size() < size) {
    tokens.push_back(absl::StrCat("[PAD", tokens.size(), "]"));
    token_types.push_back(TokenType::kUnused);
    if (!scores.empty()) scores.push_back(lowest_score);
  }
}

absl::Status TokenizerMetadata::Validate(const std::string& source) const {
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": the vocabulary has no tokens"));
  }
  if (!scores.empty() && scores.size() != tokens.size()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", scores.size(),
                                                   " token scores for ", tokens.size(),
                                                   " tokens, expected one per token"));
  }
  if (token_types.size() != tokens.size()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", token_types.size(),
                                                   " token types for ", tokens.size(),
                                                   " tokens, expected one per token"));
  }
  RETURN_IF_ERROR(CheckId(source, "the BOS token id", bos_id, tokens.size()));
  RETURN_IF_ERROR(CheckId(source, "the EOS token id", eos_id, tokens.size()));
  if (unknown_id.has_value()) {
    RETURN_IF_ERROR(CheckId(source, "the unknown token id", *unknown_id, tokens.size()));
  }
  return absl::OkStatus();
}

void SetTokenizerKeys(GgufWriter& writer, const TokenizerMetadata& tokenizer) {
  writer.SetString("tokenizer.ggml.model", tokenizer.model);
  if (!tokenizer.pre.empty()) writer.SetString("tokenizer.ggml.pre", tokenizer.pre);
  writer.SetStringArray("tokenizer.ggml.tokens", tokenizer.tokens);
  if (!tokenizer.scores.empty()) writer.SetFloat32Array("tokenizer.ggml.scores", tokenizer.scores);
  std::vector<int32_t> types;
  types.reserve(tokenizer.token_types.size());
  for (TokenType type : tokenizer.token_types) types.push_back(static_cast<int32_t>(type));
  writer.SetInt32Array("tokenizer.ggml.token_type", types);
  if (!tokenizer.merges.empty()) writer.SetStringArray("tokenizer.ggml.merges", tokenizer.merges);
  writer.SetUint32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(tokenizer.bos_id));
  writer.SetUint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(tokenizer.eos_id));
  if (tokenizer.unknown_id.has_value()) {
    writer.SetUint32("tokenizer.ggml.unknown_token_id",
                     static_cast<uint32_t>(*tokenizer.unknown_id));
  }
  if (tokenizer.add_bos.has_value()) {
    writer.SetBool("tokenizer.ggml.add_bos_token", *tokenizer.add_bos);
  }
}

absl::Status CopyTokenizerKeys(const GgufFile& source, GgufWriter& writer) {
  bool copied_any = false;
  for (const std::string& key : source.MetadataKeys()) {
    if (!absl::StartsWith(key, "tokenizer.")) continue;
    const GgufValueType type = *source.ValueType(key);
    if (type == GgufValueType::kArray) {
      RETURN_IF_ERROR(CopyArray(source, key, writer));
    } else {
      RETURN_IF_ERROR(CopyScalar(source, key, type, writer));
    }
    copied_any = true;
  }
  if (!copied_any) {
    return absl::InvalidArgumentError(
        absl::StrCat(source.path(), ": no tokenizer.* metadata keys, expected a GGUF file "
                                    "with a vocabulary such as llama.cpp's ggml-vocab-*.gguf"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> CountTokens(const GgufFile& source) {
  ASSIGN_OR_RETURN(std::vector<std::string> tokens, source.GetStringArray("tokenizer.ggml.tokens"));
  return static_cast<int>(tokens.size());
}

}  // namespace textgen
