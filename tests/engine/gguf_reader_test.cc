#include "engine/format/gguf_reader.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/format/gguf_writer.h"
#include "tests/test_paths.h"

namespace textgen {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kStories = testing::SharedPath("models/stories260K/stories260K.gguf");
const std::string kStoriesBin = testing::SharedPath("models/stories260K/stories260K.bin");
const std::string kGpt2Vocab = testing::SharedPath("models/gpt2/ggml-vocab-gpt-2.gguf");

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Returns a path in the temporary folder that no other test (or concurrent
// test process) uses.
std::string TempPath(const std::string& name) {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  return absl::StrCat(::testing::TempDir(), "/", test->test_suite_name(), "_", test->name(), "_",
                      getpid(), "_", name);
}

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  std::string path = TempPath(name);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path;
}

// Builds GGUF bytes field by field, for files that no writer produces.
class RawGguf {
 public:
  RawGguf& Bytes(const std::string& bytes) {
    bytes_ += bytes;
    return *this;
  }
  RawGguf& U8(uint8_t value) { return Append(value); }
  RawGguf& U32(uint32_t value) { return Append(value); }
  RawGguf& U64(uint64_t value) { return Append(value); }
  RawGguf& F32(float value) { return Append(value); }
  RawGguf& Str(const std::string& text) { return U64(text.size()).Bytes(text); }
  RawGguf& Header(uint32_t version, uint64_t tensor_count, uint64_t metadata_count) {
    return Bytes("GGUF").U32(version).U64(tensor_count).U64(metadata_count);
  }
  // A metadata entry with a uint32 value.
  RawGguf& KeyU32(const std::string& key, uint32_t value) { return Str(key).U32(4).U32(value); }
  // A tensor info with the given dims, type and offset.
  RawGguf& Tensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type,
                  uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(dims.size()));
    for (uint64_t dim : dims) U64(dim);
    return U32(type).U64(offset);
  }
  RawGguf& PadTo(size_t alignment) {
    bytes_.resize((bytes_.size() + alignment - 1) / alignment * alignment, '\0');
    return *this;
  }
  RawGguf& Zeros(size_t count) {
    bytes_.append(count, '\0');
    return *this;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  template <typename T>
  RawGguf& Append(T value) {
    char raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));
    bytes_.append(raw, sizeof(T));
    return *this;
  }

  std::string bytes_;
};

// Opens `bytes` as a GGUF file and expects InvalidArgument whose message
// names the file and contains every one of `fragments`.
void ExpectRejected(const std::string& bytes, const std::vector<std::string>& fragments) {
  std::string path = WriteTemp("hostile.gguf", bytes);
  absl::StatusOr<GgufFile> file = GgufFile::Open(path);
  ASSERT_FALSE(file.ok()) << "expected an error containing " << fragments[0];
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument) << file.status();
  EXPECT_THAT(file.status().message(), HasSubstr(path));
  for (const std::string& fragment : fragments) {
    EXPECT_THAT(file.status().message(), HasSubstr(fragment));
  }
}

// Reads everything a loaded file offers, so that a wrong offset accepted by
// Open shows up as a sanitizer error or a crash here.
void ReadEverything(const GgufFile& file) {
  for (const std::string& key : file.MetadataKeys()) {
    EXPECT_FALSE(file.DescribeValue(key).empty());
    (void)file.GetString(key);
    (void)file.GetUint64(key);
    (void)file.GetInt64(key);
    (void)file.GetFloat64(key);
    (void)file.GetBool(key);
    (void)file.GetStringArray(key);
    (void)file.GetFloat64Array(key);
    (void)file.GetInt64Array(key);
    (void)file.GetUint64Array(key);
    (void)file.GetBoolArray(key);
  }
  for (const GgufTensorInfo& tensor : file.tensors()) {
    absl::StatusOr<std::vector<float>> values = file.ReadTensorF32(tensor.name, tensor.dims);
    ASSERT_TRUE(values.ok()) << values.status();
    EXPECT_EQ(values->size(), tensor.element_count);
  }
}

// Returns where the last tensor's data ends, or 0 without tensors: a file
// cut at or after this point still contains every tensor.
uint64_t EndOfTensorData(const GgufFile& file) {
  uint64_t end = 0;
  for (const GgufTensorInfo& tensor : file.tensors()) {
    end = std::max(end, tensor.offset + tensor.size_bytes);
  }
  return end;
}

// ---------------------------------------------------------------------------
// stories260K.gguf, written by llama.cpp's llama2.c converter.

TEST(GgufReaderTest, Stories260KMetadata) {
  absl::StatusOr<GgufFile> file = GgufFile::Open(kStories);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->path(), kStories);
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->alignment(), 32u);
  EXPECT_EQ(file->MetadataKeys().size(), 19u);

  EXPECT_EQ(file->GetString("general.architecture").value_or(""), "llama");
  EXPECT_EQ(file->GetString("tokenizer.ggml.model").value_or(""), "llama");
  EXPECT_EQ(file->GetUint32("llama.embedding_length").value_or(0), 64u);
  EXPECT_EQ(file->GetUint32("llama.block_count").value_or(0), 5u);
  EXPECT_EQ(file->GetUint32("llama.feed_forward_length").value_or(0), 172u);
  EXPECT_EQ(file->GetUint32("llama.attention.head_count").value_or(0), 8u);
  EXPECT_EQ(file->GetUint32("llama.attention.head_count_kv").value_or(0), 4u);
  // The converter writes its default context of 128, not the checkpoint's
  // seq_len of 512.
  EXPECT_EQ(file->GetUint32("llama.context_length").value_or(0), 128u);
  EXPECT_EQ(file->GetFloat32("llama.attention.layer_norm_rms_epsilon").value_or(0), 1e-5f);
  EXPECT_EQ(file->GetUint32("tokenizer.ggml.bos_token_id").value_or(0), 1u);
  EXPECT_EQ(file->GetUint32("tokenizer.ggml.eos_token_id").value_or(0), 2u);
  EXPECT_EQ(file->ValueType("tokenizer.ggml.bos_token_id"), GgufValueType::kUint32);
  EXPECT_EQ(file->ValueType("no.such.key"), std::nullopt);
}

TEST(GgufReaderTest, Stories260KVocabulary) {
  absl::StatusOr<GgufFile> file = GgufFile::Open(kStories);
  ASSERT_TRUE(file.ok()) << file.status();

  absl::StatusOr<std::vector<std::string>> tokens = file->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  ASSERT_EQ(tokens->size(), 512u);
  // The GGUF stores the bare control pieces, where llama2.c's tokenizer file
  // has "\n<s>\n" and "\n</s>\n".
  EXPECT_EQ((*tokens)[0], "<unk>");
  EXPECT_EQ((*tokens)[1], "<s>");
  EXPECT_EQ((*tokens)[2], "</s>");
  EXPECT_EQ((*tokens)[3], "<0x00>");
  EXPECT_EQ((*tokens)[258], "<0xFF>");
  EXPECT_EQ((*tokens)[259], "\xE2\x96\x81t");  // U+2581 then "t"

  absl::StatusOr<std::vector<float>> scores = file->GetFloat32Array("tokenizer.ggml.scores");
  ASSERT_TRUE(scores.ok()) << scores.status();
  ASSERT_EQ(scores->size(), 512u);
  EXPECT_EQ((*scores)[260], -1.0f);
  EXPECT_EQ((*scores)[511], -252.0f);

  absl::StatusOr<std::vector<int32_t>> types = file->GetInt32Array("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok()) << types.status();
  ASSERT_EQ(types->size(), 512u);
  EXPECT_THAT(std::vector<int32_t>(types->begin(), types->begin() + 5), ElementsAre(2, 3, 3, 6, 6));
  EXPECT_EQ((*types)[259], 1);
}

TEST(GgufReaderTest, Stories260KTensorInfos) {
  absl::StatusOr<GgufFile> file = GgufFile::Open(kStories);
  ASSERT_TRUE(file.ok()) << file.status();
  // token_embd, output_norm, output and 9 tensors in each of 5 blocks.
  EXPECT_EQ(file->tensors().size(), 48u);
  EXPECT_EQ(file->tensors()[0].name, "token_embd.weight");

  const GgufTensorInfo* embedding = file->FindTensor("token_embd.weight");
  ASSERT_NE(embedding, nullptr);
  EXPECT_THAT(embedding->dims, ElementsAre(64, 512));
  EXPECT_EQ(embedding->type, GgufTensorType::kF32);
  EXPECT_EQ(embedding->element_count, 64u * 512u);
  EXPECT_EQ(embedding->size_bytes, 64u * 512u * 4u);
  EXPECT_EQ(embedding->offset, file->data_offset());
  EXPECT_EQ(file->data_offset() % 32, 0u);

  const GgufTensorInfo* wk = file->FindTensor("blk.4.attn_k.weight");
  ASSERT_NE(wk, nullptr);
  EXPECT_THAT(wk->dims, ElementsAre(64, 32));
  const GgufTensorInfo* down = file->FindTensor("blk.0.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_THAT(down->dims, ElementsAre(172, 64));
  EXPECT_EQ(file->FindTensor("blk.5.attn_k.weight"), nullptr);

  // The last tensor ends exactly at the end of the file.
  EXPECT_EQ(EndOfTensorData(*file), ReadAll(kStories).size());
}

TEST(GgufReaderTest, Stories260KEmbeddingMatchesLlama2cFile) {
  absl::StatusOr<GgufFile> file = GgufFile::Open(kStories);
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<std::vector<float>> embedding = file->ReadTensorF32("token_embd.weight", {64, 512});
  ASSERT_TRUE(embedding.ok()) << embedding.status();
  ASSERT_EQ(embedding->size(), 64u * 512u);

  // In the llama2.c checkpoint the token embedding follows the 28-byte
  // header, in the same row-major [vocab, dim] order.
  std::string bin = ReadAll(kStoriesBin);
  ASSERT_GE(bin.size(), 28u + embedding->size() * 4);
  std::vector<float> expected(embedding->size());
  std::memcpy(expected.data(), bin.data() + 28, expected.size() * 4);
  EXPECT_EQ(*embedding, expected);
}

TEST(GgufReaderTest, ShapeMismatchNamesTensorAndShapes) {
  absl::StatusOr<GgufFile> file = GgufFile::Open(kStories);
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<std::vector<float>> wq = file->ReadTensorF32("blk.3.attn_k.weight", {64, 64});
  ASSERT_FALSE(wq.ok());
  EXPECT_EQ(wq.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wq.status().message(),
            absl::StrCat(kStories, ": tensor blk.3.attn_k.weight has shape [64, 32], expected [64, 64]"));

  absl::StatusOr<std::vector<float>> missing = file->ReadTensorF32("blk.9.attn_q.weight", {64, 64});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("missing tensor blk.9.attn_q.weight"));
}

TEST(GgufReaderTest, GetterErrorsNameKeyTypeAndValue) {
  absl::StatusOr<GgufFile> file = GgufFile::Open(kStories);
  ASSERT_TRUE(file.ok()) << file.status();

  absl::StatusOr<uint32_t> missing = file->GetUint32("llama.rope.freq_base");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            absl::StrCat(kStories, ": missing metadata key llama.rope.freq_base (expected uint32)"));

  absl::StatusOr<std::string> not_string = file->GetString("llama.block_count");
  ASSERT_FALSE(not_string.ok());
  EXPECT_EQ(not_string.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(not_string.status().message(),
            absl::StrCat(kStories, ": metadata key llama.block_count is uint32 5, expected string"));

  // llama.cpp marks "no separator token" with 0xFFFFFFFF (and spells the key
  // "seperator").
  EXPECT_EQ(file->GetUint32("tokenizer.ggml.seperator_token_id").value_or(0), 0xFFFFFFFFu);
  EXPECT_EQ(file->GetInt64("tokenizer.ggml.seperator_token_id").value_or(0), 0xFFFFFFFFll);
  absl::StatusOr<int32_t> too_big = file->GetInt32("tokenizer.ggml.seperator_token_id");
  ASSERT_FALSE(too_big.ok());
  EXPECT_THAT(too_big.status().message(),
              HasSubstr("tokenizer.ggml.seperator_token_id is uint32 4294967295, which does not "
                        "fit int32"));

  absl::StatusOr<std::vector<int32_t>> not_integers = file->GetInt32Array("tokenizer.ggml.scores");
  ASSERT_FALSE(not_integers.ok());
  EXPECT_THAT(not_integers.status().message(),
              HasSubstr("tokenizer.ggml.scores is array of 512 float32"));

  absl::StatusOr<float> not_float = file->GetFloat32("general.name");
  ASSERT_FALSE(not_float.ok());
  EXPECT_THAT(not_float.status().message(), HasSubstr("is string \"llama\""));
  EXPECT_FALSE(file->GetBool("llama.block_count").ok());
  EXPECT_FALSE(file->GetStringArray("general.name").ok());
}

TEST(GgufReaderTest, DescribeValueSummarizes) {
  absl::StatusOr<GgufFile> file = GgufFile::Open(kStories);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->DescribeValue("general.architecture"), "string \"llama\"");
  EXPECT_EQ(file->DescribeValue("llama.block_count"), "uint32 5");
  EXPECT_EQ(file->DescribeValue("tokenizer.ggml.tokens"),
            "array of 512 string: \"<unk>\", \"<s>\", \"</s>\", ...");
  EXPECT_EQ(file->DescribeValue("tokenizer.ggml.token_type"), "array of 512 int32: 2, 3, 3, ...");
  EXPECT_EQ(file->DescribeValue("no.such.key"), "(missing)");
  EXPECT_THAT(file->MetadataKeys(), ::testing::Contains("llama.attention.layer_norm_rms_epsilon"));
}

// ---------------------------------------------------------------------------
// ggml-vocab-gpt-2.gguf: a vocabulary-only file from llama.cpp's repository.

TEST(GgufReaderTest, Gpt2VocabularyFile) {
  absl::StatusOr<GgufFile> file = GgufFile::Open(kGpt2Vocab);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->version(), 3u);
  EXPECT_TRUE(file->tensors().empty());
  // The file ends right after the metadata, with no padding.
  EXPECT_GE(file->data_offset(), ReadAll(kGpt2Vocab).size());

  EXPECT_EQ(file->GetString("general.architecture").value_or(""), "gpt2");
  EXPECT_EQ(file->GetString("tokenizer.ggml.model").value_or(""), "gpt2");
  EXPECT_EQ(file->GetString("tokenizer.ggml.pre").value_or(""), "gpt-2");
  EXPECT_EQ(file->GetUint32("gpt2.block_count").value_or(0), 12u);
  EXPECT_EQ(file->GetUint32("gpt2.embedding_length").value_or(0), 768u);
  EXPECT_EQ(file->GetUint32("gpt2.context_length").value_or(0), 1024u);
  EXPECT_EQ(file->GetUint32("tokenizer.ggml.bos_token_id").value_or(0), 50256u);
  EXPECT_EQ(file->GetUint32("tokenizer.ggml.eos_token_id").value_or(0), 50256u);

  absl::StatusOr<std::vector<std::string>> tokens = file->GetStringArray("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  ASSERT_EQ(tokens->size(), 50257u);
  EXPECT_EQ((*tokens)[0], "!");
  EXPECT_EQ((*tokens)[15496], "Hello");
  EXPECT_EQ((*tokens)[995], "\xC4\xA0world");  // "Ġworld": GPT-2 maps the space byte to U+0120.
  EXPECT_EQ((*tokens)[50256], "<|endoftext|>");

  absl::StatusOr<std::vector<std::string>> merges = file->GetStringArray("tokenizer.ggml.merges");
  ASSERT_TRUE(merges.ok()) << merges.status();
  ASSERT_EQ(merges->size(), 50000u);
  EXPECT_EQ((*merges)[0], "\xC4\xA0 t");
  EXPECT_EQ((*merges)[2], "h e");

  absl::StatusOr<std::vector<int32_t>> types = file->GetInt32Array("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok()) << types.status();
  EXPECT_EQ(types->size(), 50257u);
}

// ---------------------------------------------------------------------------
// Hand-made files.

TEST(GgufReaderTest, HalfAndBf16TensorsConvertExactly) {
  // F16 bits: 1, -2, 65504 (largest finite), 2^-24 (smallest subnormal),
  // infinity, -0.
  const uint16_t half_bits[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x8000};
  // BF16 bits: 1, the bf16 nearest 0.1, -3.140625.
  const uint16_t bf16_bits[] = {0x3F80, 0x3DCD, 0xC049};
  RawGguf raw;
  raw.Header(3, 2, 0)
      .Tensor("half", {6}, 1, 0)
      .Tensor("bf16", {3}, 30, 32)
      .PadTo(32);
  raw.Bytes(std::string(reinterpret_cast<const char*>(half_bits), sizeof(half_bits))).PadTo(32);
  raw.Bytes(std::string(reinterpret_cast<const char*>(bf16_bits), sizeof(bf16_bits)));
  std::string path = WriteTemp("halves.gguf", raw.bytes());

  absl::StatusOr<GgufFile> file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<std::vector<float>> half = file->ReadTensorF32("half", {6});
  ASSERT_TRUE(half.ok()) << half.status();
  EXPECT_THAT(*half, ElementsAre(1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -24),
                                 std::numeric_limits<float>::infinity(), 0.0f));
  EXPECT_TRUE(std::signbit((*half)[5]));

  absl::StatusOr<std::vector<float>> bf16 = file->ReadTensorF32("bf16", {3});
  ASSERT_TRUE(bf16.ok()) << bf16.status();
  EXPECT_THAT(*bf16, ElementsAre(1.0f, 0.10009765625f, -3.140625f));
}

TEST(GgufReaderTest, AcceptsVersion2AndScalarTensor) {
  RawGguf raw;
  raw.Header(2, 1, 1).KeyU32("general.alignment", 8).Tensor("scalar", {}, 0, 0).PadTo(8).F32(2.5f);
  std::string path = WriteTemp("v2.gguf", raw.bytes());
  absl::StatusOr<GgufFile> file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->version(), 2u);
  EXPECT_EQ(file->alignment(), 8u);
  absl::StatusOr<std::vector<float>> scalar = file->ReadTensorF32("scalar", {});
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  EXPECT_THAT(*scalar, ElementsAre(2.5f));
}

TEST(GgufHostileHeaderTest, BadMagicAndVersions) {
  ExpectRejected("", {"file is truncated", "the magic"});
  ExpectRejected("GGU", {"file is truncated"});
  ExpectRejected(RawGguf().Bytes("GGML").U32(3).U64(0).U64(0).bytes(),
                 {"bad magic \"GGML\"", "expected \"GGUF\""});
  ExpectRejected(RawGguf().Header(1, 0, 0).bytes(), {"GGUF version 1 is not supported",
                                                     "expected version 2 or 3"});
  ExpectRejected(RawGguf().Header(0x03000000, 0, 0).bytes(), {"big-endian"});
  ExpectRejected(RawGguf().Header(4, 0, 0).bytes(), {"GGUF version 4 is not supported"});
  ExpectRejected(RawGguf().Bytes("GGUF").U32(3).U64(0).bytes(), {"the metadata entry count"});
}

TEST(GgufHostileHeaderTest, HugeCountsFailBeforeAllocating) {
  ExpectRejected(RawGguf().Header(3, uint64_t{1} << 62, 0).bytes(),
                 {"declares 4611686018427387904 tensors"});
  ExpectRejected(RawGguf().Header(3, 0, uint64_t{1} << 62).bytes(),
                 {"declares 4611686018427387904 metadata entries"});
  ExpectRejected(RawGguf().Header(3, 0, 1).U64(uint64_t{1} << 63).Zeros(16).bytes(),
                 {"the key of metadata entry 0", "needs 9223372036854775808 bytes"});
  // A string value of length 2^63 - 1.
  ExpectRejected(RawGguf().Header(3, 0, 1).Str("k").U32(8).U64(INT64_MAX).Zeros(8).bytes(),
                 {"the value of metadata key k", "needs 9223372036854775807 bytes"});
  // Arrays of 2^60 uint8 and of 2^61 strings.
  ExpectRejected(RawGguf().Header(3, 0, 1).Str("a").U32(9).U32(0).U64(uint64_t{1} << 60).bytes(),
                 {"metadata key a declares an array of 1152921504606846976 uint8 values"});
  ExpectRejected(RawGguf().Header(3, 0, 1).Str("a").U32(9).U32(8).U64(uint64_t{1} << 61).Zeros(64)
                     .bytes(),
                 {"array of 2305843009213693952 string values"});
  // A string array element whose length runs past the end.
  ExpectRejected(RawGguf().Header(3, 0, 1).Str("a").U32(9).U32(8).U64(2).Str("x").U64(1000).bytes(),
                 {"element 1 of metadata key a", "needs 1000 bytes"});
  // A tensor name of length 2^64 - 1.
  ExpectRejected(RawGguf().Header(3, 1, 0).U64(UINT64_MAX).Zeros(24).bytes(),
                 {"the name of tensor info 0"});
}

TEST(GgufHostileHeaderTest, BadMetadataValues) {
  ExpectRejected(RawGguf().Header(3, 0, 1).Str("k").U32(13).U32(0).bytes(),
                 {"metadata key k has value type 13"});
  ExpectRejected(RawGguf().Header(3, 0, 1).Str("k").U32(7).U8(2).bytes(),
                 {"the value of metadata key k is a bool of value 2, expected 0 or 1"});
  ExpectRejected(RawGguf().Header(3, 0, 1).Str("k").U32(9).U32(7).U64(3).U8(1).U8(0).U8(5).bytes(),
                 {"element 2 of metadata key k is a bool of value 5"});
  ExpectRejected(RawGguf().Header(3, 0, 1).Str("k").U32(9).U32(9).U64(1).U32(0).U64(0).bytes(),
                 {"metadata key k is an array of arrays"});
  ExpectRejected(RawGguf().Header(3, 0, 1).Str("k").U32(9).U32(20).U64(0).bytes(),
                 {"array element type 20"});
  ExpectRejected(RawGguf().Header(3, 0, 2).KeyU32("k", 1).KeyU32("k", 2).bytes(),
                 {"metadata key k appears twice (entries 0 and 1)"});
  ExpectRejected(RawGguf().Header(3, 0, 1).Str("k").U32(10).U32(0).bytes(),
                 {"file is truncated", "the value of metadata key k needs 8 bytes"});
}

TEST(GgufHostileHeaderTest, BadAlignment) {
  ExpectRejected(RawGguf().Header(3, 0, 1).KeyU32("general.alignment", 0).bytes(),
                 {"general.alignment is 0, expected a non-zero power of two"});
  ExpectRejected(RawGguf().Header(3, 0, 1).KeyU32("general.alignment", 3).bytes(),
                 {"general.alignment is 3, expected a non-zero power of two"});
  ExpectRejected(RawGguf().Header(3, 0, 1).Str("general.alignment").U32(8).Str("32").bytes(),
                 {"general.alignment is string \"32\", expected an integer that fits uint32"});
}

TEST(GgufHostileHeaderTest, BadTensorInfos) {
  const std::vector<uint64_t> dims = {4};
  ExpectRejected(RawGguf().Header(3, 1, 0).Tensor("t", {4, 1, 1, 1, 1}, 0, 0).PadTo(32).Zeros(16)
                     .bytes(),
                 {"tensor t has n_dims 5, expected at most 4"});
  ExpectRejected(RawGguf().Header(3, 1, 0).Tensor("t", {4, 0}, 0, 0).PadTo(32).bytes(),
                 {"tensor t has dims [4, 0], expected every dimension to be at least 1"});
  ExpectRejected(
      RawGguf().Header(3, 1, 0).Tensor("t", {1ull << 32, 1ull << 32, 2}, 0, 0).PadTo(32).bytes(),
      {"tensor t has dims [4294967296, 4294967296, 2], whose element count does not fit 64 bits"});
  ExpectRejected(RawGguf().Header(3, 1, 0).Tensor("t", {1ull << 62}, 0, 0).PadTo(32).bytes(),
                 {"whose size in bytes does not fit 64 bits"});
  ExpectRejected(RawGguf().Header(3, 1, 0).Tensor("blk.0.attn_q.weight", dims, 2, 0).PadTo(32)
                     .Zeros(32).bytes(),
                 {"tensor blk.0.attn_q.weight has type 2 (Q4_0), which is not supported",
                  "F32 (0), F16 (1) and BF16 (30)"});
  ExpectRejected(RawGguf().Header(3, 1, 0).Tensor("t", dims, 1000, 0).PadTo(32).bytes(),
                 {"type 1000 (unknown)"});
  ExpectRejected(RawGguf().Header(3, 2, 0).Tensor("t", dims, 0, 0).Tensor("t", dims, 0, 32)
                     .PadTo(32).Zeros(64).bytes(),
                 {"tensor name t appears twice (tensor infos 0 and 1)"});
}

TEST(GgufHostileHeaderTest, BadTensorPlacement) {
  const std::vector<uint64_t> dims = {4};
  ExpectRejected(RawGguf().Header(3, 1, 0).Tensor("t", dims, 0, 16).PadTo(32).Zeros(64).bytes(),
                 {"tensor t has data offset 16, expected a multiple of the alignment 32"});
  // 16 bytes of data are needed, 15 are present.
  ExpectRejected(RawGguf().Header(3, 1, 0).Tensor("t", dims, 0, 0).PadTo(32).Zeros(15).bytes(),
                 {"tensor t ([4] F32, 16 bytes) has data offset 0", "past the end of the file"});
  ExpectRejected(RawGguf().Header(3, 1, 0).Tensor("t", dims, 0, 1ull << 40).PadTo(32).Zeros(16)
                     .bytes(),
                 {"has data offset 1099511627776", "past the end of the file"});
  // The data section start plus this offset wraps around 2^64.
  ExpectRejected(RawGguf().Header(3, 1, 0).Tensor("t", dims, 0, UINT64_MAX - 31).PadTo(32)
                     .Zeros(16).bytes(),
                 {"has data offset 18446744073709551584", "past the end of the file"});
  ExpectRejected(RawGguf().Header(3, 2, 1).KeyU32("general.alignment", 8)
                     .Tensor("a", {4}, 0, 8).Tensor("b", {4}, 0, 16).PadTo(8).Zeros(32).bytes(),
                 {"the data of tensors a (bytes", "and b (from byte", "overlap"});
}

// ---------------------------------------------------------------------------
// Damaged copies of real files: every variant must load or fail with an
// error naming the file, without crashing, hanging or allocating absurdly.

// Returns a small file made by the writer: metadata of several types and
// tensors of each supported type.
std::string WriteSmallFile(const std::string& name) {
  GgufWriter writer;
  writer.SetString("general.architecture", "test");
  writer.SetUint32("test.count", 7);
  writer.SetFloat32("test.epsilon", 1e-5f);
  writer.SetBool("test.flag", true);
  writer.SetStringArray("test.tokens", {"a", "bc", "", "def"});
  writer.SetInt32Array("test.types", {1, -2, 3});
  writer.SetFloat32Array("test.scores", {0.5f, -1.5f});
  std::vector<float> values(35);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.25f * static_cast<float>(i) - 3.0f;
  EXPECT_TRUE(writer.AddTensor("f32", {5, 7}, GgufTensorType::kF32, values).ok());
  EXPECT_TRUE(writer.AddTensor("f16", {7, 5}, GgufTensorType::kF16, values).ok());
  EXPECT_TRUE(writer.AddTensor("bf16", {35}, GgufTensorType::kBF16, values).ok());
  std::string path = TempPath(name);
  EXPECT_TRUE(writer.WriteFile(path).ok());
  return path;
}

// Opens `path` and checks that it fails with an error naming it, or loads
// with every tensor inside the file and readable. Returns whether it loaded.
bool ExpectLoadsOrFailsCleanly(const std::string& path, uint64_t file_size,
                               const std::string& variant) {
  absl::StatusOr<GgufFile> file = GgufFile::Open(path);
  if (!file.ok()) {
    EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument) << variant;
    EXPECT_THAT(file.status().message(), HasSubstr(path)) << variant;
    return false;
  }
  EXPECT_LE(EndOfTensorData(*file), file_size) << variant;
  ReadEverything(*file);
  return true;
}

// Cuts the file at every length up to 2 KiB, then at a stride through the
// rest of the header and the data. Lengths go down, so one file is truncated
// in place.
void CheckTruncations(const std::string& source, const std::string& name) {
  std::string bytes = ReadAll(source);
  ASSERT_FALSE(bytes.empty());
  uint64_t valid_length = 0;
  {
    absl::StatusOr<GgufFile> file = GgufFile::Open(source);
    ASSERT_TRUE(file.ok()) << file.status();
    valid_length = EndOfTensorData(*file);
    if (file->tensors().empty()) valid_length = bytes.size();
  }

  std::vector<size_t> lengths;
  for (size_t length = 0; length < std::min<size_t>(bytes.size(), 2048); ++length) {
    lengths.push_back(length);
  }
  for (size_t length = 2048; length < bytes.size(); length += length < 16384 ? 7 : 4093) {
    lengths.push_back(length);
  }
  lengths.push_back(bytes.size() - 1);

  std::string path = WriteTemp(name, bytes);
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  for (auto it = lengths.rbegin(); it != lengths.rend(); ++it) {
    size_t length = *it;
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(length)), 0);
    absl::StatusOr<GgufFile> file = GgufFile::Open(path);
    if (length < valid_length) {
      ASSERT_FALSE(file.ok()) << "a file cut at " << length << " bytes loaded";
      EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument) << length;
      EXPECT_THAT(file.status().message(), HasSubstr(path)) << length;
    } else {
      EXPECT_TRUE(file.ok()) << "cut at " << length << ": " << file.status();
    }
  }
  ::close(fd);
}

// Changes 1 to 4 random bytes per variant, mostly before the data section,
// writing each change into one file and restoring it afterwards.
void CheckByteFlips(const std::string& source, const std::string& name, int variants) {
  std::string bytes = ReadAll(source);
  uint64_t data_offset = 0;
  {
    absl::StatusOr<GgufFile> file = GgufFile::Open(source);
    ASSERT_TRUE(file.ok()) << file.status();
    data_offset = std::min<uint64_t>(file->data_offset(), bytes.size());
  }

  std::string path = WriteTemp(name, bytes);
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  std::mt19937_64 random(20240601);
  int loaded = 0;
  for (int variant = 0; variant < variants; ++variant) {
    int flips = 1 + static_cast<int>(random() % 4);
    std::vector<size_t> positions;
    std::string description = absl::StrCat("variant ", variant, ":");
    for (int i = 0; i < flips; ++i) {
      // Nine in ten changes go to the header, metadata and tensor infos.
      size_t limit = random() % 10 != 0 ? data_offset : bytes.size();
      size_t position = random() % limit;
      char changed = static_cast<char>(bytes[position] ^ static_cast<char>(1 + random() % 255));
      ASSERT_EQ(::pwrite(fd, &changed, 1, static_cast<off_t>(position)), 1);
      positions.push_back(position);
      absl::StrAppend(&description, " byte ", position, " = ", static_cast<int>(changed) & 0xff);
    }
    if (ExpectLoadsOrFailsCleanly(path, bytes.size(), description)) ++loaded;
    for (size_t position : positions) {
      ASSERT_EQ(::pwrite(fd, &bytes[position], 1, static_cast<off_t>(position)), 1);
    }
  }
  ::close(fd);

  // Changes inside strings and tensor data leave the file valid, and most
  // others do not, so both outcomes must occur for the test to cover both.
  EXPECT_GT(loaded, 0);
  EXPECT_LT(loaded, variants);
  ::testing::Test::RecordProperty("loaded_variants", loaded);
}

TEST(GgufRobustnessTest, TruncatedStories260K) { CheckTruncations(kStories, "stories.gguf"); }

TEST(GgufRobustnessTest, TruncatedWriterFile) {
  CheckTruncations(WriteSmallFile("small.gguf"), "cut.gguf");
}

TEST(GgufRobustnessTest, ByteFlipsInStories260K) {
  CheckByteFlips(kStories, "stories.gguf", 3000);
}

TEST(GgufRobustnessTest, ByteFlipsInWriterFile) {
  CheckByteFlips(WriteSmallFile("small.gguf"), "flipped.gguf", 3000);
}

}  // namespace
}  // namespace textgen
