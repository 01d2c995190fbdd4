#include "engine/format/gguf_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/format/gguf_reader.h"

namespace textgen {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr float kInfinity = std::numeric_limits<float>::infinity();

// Returns a path in the temporary folder that no other test (or concurrent
// test process) uses.
std::string TempPath(const std::string& name) {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  return absl::StrCat(::testing::TempDir(), "/", test->test_suite_name(), "_", test->name(), "_",
                      getpid(), "_", name);
}

// Rounds `value` to a binary format with `mantissa_bits` stored mantissa
// bits, smallest normal exponent `min_exponent` and largest finite value
// `max_finite`. It works in double arithmetic with nearbyint (round half to
// even in the default rounding mode), independently of the bit operations
// in the writer.
double RoundToFormat(double value, int mantissa_bits, int min_exponent, double max_finite) {
  if (value == 0 || std::isinf(value)) return value;
  int exponent = std::max(std::ilogb(value), min_exponent);
  double scale = std::ldexp(1.0, exponent - mantissa_bits);
  double rounded = std::nearbyint(value / scale) * scale;
  if (std::fabs(rounded) > max_finite) return std::copysign(INFINITY, value);
  return rounded;
}

double RoundToHalf(float value) { return RoundToFormat(value, 10, -14, 65504.0); }

double RoundToBf16(float value) {
  return RoundToFormat(value, 7, -126, std::ldexp(255.0 / 128.0, 127));
}

std::vector<uint16_t> RawHalves(const GgufFile& file, const GgufTensorInfo& tensor) {
  absl::Span<const uint8_t> bytes = file.TensorBytes(tensor);
  std::vector<uint16_t> halves(bytes.size() / 2);
  std::memcpy(halves.data(), bytes.data(), halves.size() * 2);
  return halves;
}

TEST(GgufWriterTest, MetadataRoundTripsEveryType) {
  GgufWriter writer;
  writer.SetUint8("t.uint8", 200);
  writer.SetInt8("t.int8", -5);
  writer.SetUint16("t.uint16", 65535);
  writer.SetInt16("t.int16", -32768);
  writer.SetUint32("t.uint32", 0xFFFFFFFFu);
  writer.SetInt32("t.int32", INT32_MIN);
  writer.SetFloat32("t.float32", 1e-5f);
  writer.SetBool("t.bool", false);
  writer.SetString("t.string", std::string("caf\xC3\xA9\0x", 7));
  writer.SetUint64("t.uint64", UINT64_MAX);
  writer.SetInt64("t.int64", INT64_MIN);
  writer.SetFloat64("t.float64", 3.141592653589793);
  writer.SetStringArray("t.strings", {"<s>", "", "\xE2\x96\x81hello"});
  writer.SetStringArray("t.no_strings", {});
  writer.SetFloat32Array("t.floats", {0.5f, -kInfinity, 1e30f});
  writer.SetInt32Array("t.int32s", {INT32_MAX, -1, 0});
  writer.SetBoolArray("t.bools", {true, false, true});
  writer.SetNumberArray<uint8_t>("t.uint8s", std::vector<uint8_t>{0, 255});
  writer.SetNumberArray<int8_t>("t.int8s", std::vector<int8_t>{-128, 127});
  writer.SetNumberArray<uint16_t>("t.uint16s", std::vector<uint16_t>{65535});
  writer.SetNumberArray<int16_t>("t.int16s", std::vector<int16_t>{-32768, 7});
  writer.SetNumberArray<uint32_t>("t.uint32s", std::vector<uint32_t>{7, 0xFFFFFFFFu});
  writer.SetNumberArray<uint64_t>("t.uint64s", std::vector<uint64_t>{UINT64_MAX, 1});
  writer.SetNumberArray<int64_t>("t.int64s", std::vector<int64_t>{INT64_MIN, 2});
  writer.SetNumberArray<double>("t.float64s", std::vector<double>{0.1, -2.5});
  std::string path = TempPath("metadata.gguf");
  ASSERT_TRUE(writer.WriteFile(path).ok());

  absl::StatusOr<GgufFile> file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->version(), 3u);
  EXPECT_TRUE(file->tensors().empty());
  EXPECT_EQ(file->MetadataKeys().size(), 25u);

  EXPECT_EQ(file->ValueType("t.uint8"), GgufValueType::kUint8);
  EXPECT_EQ(file->GetUint32("t.uint8").value_or(0), 200u);
  EXPECT_EQ(file->ValueType("t.int8"), GgufValueType::kInt8);
  EXPECT_EQ(file->GetInt32("t.int8").value_or(0), -5);
  EXPECT_FALSE(file->GetUint32("t.int8").ok());
  EXPECT_EQ(file->ValueType("t.uint16"), GgufValueType::kUint16);
  EXPECT_EQ(file->GetUint32("t.uint16").value_or(0), 65535u);
  EXPECT_EQ(file->ValueType("t.int16"), GgufValueType::kInt16);
  EXPECT_EQ(file->GetInt32("t.int16").value_or(0), -32768);
  EXPECT_EQ(file->ValueType("t.uint32"), GgufValueType::kUint32);
  EXPECT_EQ(file->GetUint32("t.uint32").value_or(0), 0xFFFFFFFFu);
  EXPECT_EQ(file->ValueType("t.int32"), GgufValueType::kInt32);
  EXPECT_EQ(file->GetInt32("t.int32").value_or(0), INT32_MIN);
  EXPECT_EQ(file->ValueType("t.float32"), GgufValueType::kFloat32);
  EXPECT_EQ(file->GetFloat32("t.float32").value_or(0), 1e-5f);
  EXPECT_EQ(file->ValueType("t.bool"), GgufValueType::kBool);
  EXPECT_EQ(file->GetBool("t.bool").value_or(true), false);
  EXPECT_EQ(file->ValueType("t.string"), GgufValueType::kString);
  EXPECT_EQ(file->GetString("t.string").value_or(""), std::string("caf\xC3\xA9\0x", 7));
  EXPECT_EQ(file->ValueType("t.uint64"), GgufValueType::kUint64);
  EXPECT_EQ(file->GetUint64("t.uint64").value_or(0), UINT64_MAX);
  EXPECT_FALSE(file->GetInt64("t.uint64").ok());
  EXPECT_EQ(file->ValueType("t.int64"), GgufValueType::kInt64);
  EXPECT_EQ(file->GetInt64("t.int64").value_or(0), INT64_MIN);
  EXPECT_EQ(file->ValueType("t.float64"), GgufValueType::kFloat64);
  EXPECT_EQ(file->GetFloat64("t.float64").value_or(0), 3.141592653589793);
  EXPECT_EQ(file->GetFloat32("t.float64").value_or(0), 3.14159265f);

  EXPECT_THAT(file->GetStringArray("t.strings").value_or(std::vector<std::string>{}),
              ElementsAre("<s>", "", "\xE2\x96\x81hello"));
  absl::StatusOr<std::vector<std::string>> no_strings = file->GetStringArray("t.no_strings");
  ASSERT_TRUE(no_strings.ok()) << no_strings.status();
  EXPECT_TRUE(no_strings->empty());
  EXPECT_THAT(file->GetFloat32Array("t.floats").value_or(std::vector<float>{}),
              ElementsAre(0.5f, -kInfinity, 1e30f));
  EXPECT_THAT(file->GetInt32Array("t.int32s").value_or(std::vector<int32_t>{}),
              ElementsAre(INT32_MAX, -1, 0));
  EXPECT_THAT(file->GetBoolArray("t.bools").value_or(std::vector<bool>{}),
              ElementsAre(true, false, true));
  EXPECT_THAT(file->GetInt32Array("t.uint8s").value_or(std::vector<int32_t>{}), ElementsAre(0, 255));
  EXPECT_THAT(file->GetInt32Array("t.int8s").value_or(std::vector<int32_t>{}),
              ElementsAre(-128, 127));
  EXPECT_THAT(file->GetInt32Array("t.uint16s").value_or(std::vector<int32_t>{}), ElementsAre(65535));
  EXPECT_THAT(file->GetInt32Array("t.int16s").value_or(std::vector<int32_t>{}),
              ElementsAre(-32768, 7));
  EXPECT_THAT(file->GetUint64Array("t.uint64s").value_or(std::vector<uint64_t>{}),
              ElementsAre(UINT64_MAX, 1));
  EXPECT_THAT(file->GetInt64Array("t.int64s").value_or(std::vector<int64_t>{}),
              ElementsAre(INT64_MIN, 2));
  EXPECT_THAT(file->GetFloat64Array("t.float64s").value_or(std::vector<double>{}),
              ElementsAre(0.1, -2.5));

  // 0xFFFFFFFF does not fit int32, and the message names the element.
  absl::StatusOr<std::vector<int32_t>> too_big = file->GetInt32Array("t.uint32s");
  ASSERT_FALSE(too_big.ok());
  EXPECT_THAT(too_big.status().message(),
              HasSubstr("element 1 of metadata key t.uint32s is uint32 4294967295, which does "
                        "not fit int32"));
  EXPECT_EQ(file->DescribeValue("t.uint32s"), "array of 2 uint32: 7, 4294967295");
  EXPECT_EQ(file->DescribeValue("t.bools"), "array of 3 bool: true, false, true");
}

TEST(GgufWriterTest, KeysKeepInsertionOrder) {
  GgufWriter writer;
  writer.SetString("general.architecture", "llama");
  writer.SetUint32("llama.block_count", 5);
  writer.SetFloat32("llama.rope.freq_base", 10000.0f);
  // Setting a key again replaces its value, even with another type, in place.
  writer.SetUint64("llama.block_count", 6);
  std::string path = TempPath("order.gguf");
  ASSERT_TRUE(writer.WriteFile(path).ok());

  absl::StatusOr<GgufFile> file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(file->MetadataKeys(),
              ElementsAre("general.architecture", "llama.block_count", "llama.rope.freq_base"));
  EXPECT_EQ(file->ValueType("llama.block_count"), GgufValueType::kUint64);
  EXPECT_EQ(file->GetUint32("llama.block_count").value_or(0), 6u);
  // general.alignment is written only when set.
  EXPECT_FALSE(file->HasKey("general.alignment"));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(GgufWriterTest, TensorsOfOddSizesRoundTrip) {
  std::mt19937 random(7);
  std::uniform_real_distribution<float> uniform(-4.0f, 4.0f);
  auto random_values = [&](size_t count) {
    std::vector<float> values(count);
    for (float& value : values) value = uniform(random);
    return values;
  };
  std::vector<float> cube = random_values(3 * 5 * 7);
  std::vector<float> four_d = random_values(2 * 3 * 1 * 5);
  std::vector<float> halves = random_values(13);
  std::vector<float> bf16s = random_values(15);

  GgufWriter writer;
  writer.SetString("general.architecture", "test");
  ASSERT_TRUE(writer.AddTensor("cube", {3, 5, 7}, GgufTensorType::kF32, cube).ok());
  ASSERT_TRUE(writer.AddTensor("halves", {13}, GgufTensorType::kF16, halves).ok());
  ASSERT_TRUE(writer.AddTensor("bf16s", {5, 3}, GgufTensorType::kBF16, bf16s).ok());
  ASSERT_TRUE(writer.AddTensor("four_d", {2, 3, 1, 5}, GgufTensorType::kF32, four_d).ok());
  ASSERT_TRUE(writer.AddTensor("one", {1}, GgufTensorType::kF16, {0.1f}).ok());
  std::string path = TempPath("tensors.gguf");
  ASSERT_TRUE(writer.WriteFile(path).ok());

  absl::StatusOr<GgufFile> file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->tensors().size(), 5u);
  EXPECT_EQ(file->data_offset() % 32, 0u);
  for (const GgufTensorInfo& tensor : file->tensors()) {
    EXPECT_EQ((tensor.offset - file->data_offset()) % 32, 0u) << tensor.name;
  }
  EXPECT_EQ(file->tensors()[0].name, "cube");
  EXPECT_THAT(file->tensors()[0].dims, ElementsAre(3, 5, 7));
  EXPECT_EQ(file->tensors()[0].size_bytes, 105u * 4u);
  EXPECT_EQ(file->tensors()[1].type, GgufTensorType::kF16);
  EXPECT_EQ(file->tensors()[1].size_bytes, 26u);
  EXPECT_EQ(file->tensors()[2].type, GgufTensorType::kBF16);

  EXPECT_EQ(file->ReadTensorF32("cube", {3, 5, 7}).value_or(std::vector<float>{}), cube);
  EXPECT_EQ(file->ReadTensorF32("four_d", {2, 3, 1, 5}).value_or(std::vector<float>{}), four_d);

  absl::StatusOr<std::vector<float>> read_halves = file->ReadTensorF32("halves", {13});
  ASSERT_TRUE(read_halves.ok()) << read_halves.status();
  for (size_t i = 0; i < halves.size(); ++i) {
    EXPECT_EQ((*read_halves)[i], RoundToHalf(halves[i])) << "value " << halves[i];
  }
  absl::StatusOr<std::vector<float>> read_bf16s = file->ReadTensorF32("bf16s", {5, 3});
  ASSERT_TRUE(read_bf16s.ok()) << read_bf16s.status();
  for (size_t i = 0; i < bf16s.size(); ++i) {
    EXPECT_EQ((*read_bf16s)[i], RoundToBf16(bf16s[i])) << "value " << bf16s[i];
  }
  // The f16 nearest 0.1 is 0x2E66 = 0.0999755859375.
  EXPECT_THAT(file->ReadTensorF32("one", {1}).value_or(std::vector<float>{}),
              ElementsAre(0.0999755859375f));
}

TEST(GgufWriterTest, HalfRoundingMatchesKnownBits) {
  const std::vector<float> values = {
      1.0f,
      0.1f,
      65504.0f,                      // largest finite half
      65519.0f,                      // below the midpoint to infinity: 65504
      65520.0f,                      // the midpoint rounds to even, which is infinity
      -0.0f,
      std::ldexp(1.0f, -24),         // smallest subnormal
      std::ldexp(1.0f, -25),         // half of it: ties to even zero
      std::ldexp(1.5f, -25),         // above the tie: smallest subnormal
      std::ldexp(1023.0f, -24),      // largest subnormal
      std::ldexp(2047.0f, -25),      // rounds up into the smallest normal
      1.0f + std::ldexp(1.0f, -11),  // tie between 1 and the next half: even, 1
      1.0f + std::ldexp(3.0f, -11),  // tie: even is 1 + 2^-9
      1e-10f,
      kInfinity,
      -kInfinity,
      std::numeric_limits<float>::quiet_NaN(),
  };
  GgufWriter writer;
  ASSERT_TRUE(writer.AddTensor("h", {values.size()}, GgufTensorType::kF16, values).ok());
  std::string path = TempPath("half.gguf");
  ASSERT_TRUE(writer.WriteFile(path).ok());
  absl::StatusOr<GgufFile> file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();

  std::vector<uint16_t> bits = RawHalves(*file, file->tensors()[0]);
  ASSERT_EQ(bits.size(), values.size());
  EXPECT_THAT(std::vector<uint16_t>(bits.begin(), bits.end() - 1),
              ElementsAre(0x3C00, 0x2E66, 0x7BFF, 0x7BFF, 0x7C00, 0x8000, 0x0001, 0x0000, 0x0001,
                          0x03FF, 0x0400, 0x3C00, 0x3C02, 0x0000, 0x7C00, 0xFC00));
  // NaN: all exponent bits set, a non-zero mantissa.
  EXPECT_EQ(bits.back() & 0x7C00, 0x7C00);
  EXPECT_NE(bits.back() & 0x03FF, 0);
  EXPECT_TRUE(std::isnan(file->ReadTensorF32("h", {values.size()}).value()[values.size() - 1]));
}

TEST(GgufWriterTest, Bf16RoundingMatchesKnownBits) {
  const std::vector<float> values = {
      1.0f,
      0.1f,
      -2.0f,
      3.14159265f,
      1.0f + std::ldexp(1.0f, -8),  // tie: even is 1
      1.0f + std::ldexp(3.0f, -8),  // tie: even is 1 + 2^-6
      FLT_MAX,                      // rounds up to infinity
      std::ldexp(1.0f, -130),       // an f32 subnormal, exact in bf16
      kInfinity,
      std::numeric_limits<float>::quiet_NaN(),
  };
  GgufWriter writer;
  ASSERT_TRUE(writer.AddTensor("b", {values.size()}, GgufTensorType::kBF16, values).ok());
  std::string path = TempPath("bf16.gguf");
  ASSERT_TRUE(writer.WriteFile(path).ok());
  absl::StatusOr<GgufFile> file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();

  std::vector<uint16_t> bits = RawHalves(*file, file->tensors()[0]);
  ASSERT_EQ(bits.size(), values.size());
  EXPECT_THAT(std::vector<uint16_t>(bits.begin(), bits.end() - 1),
              ElementsAre(0x3F80, 0x3DCD, 0xC000, 0x4049, 0x3F80, 0x3F82, 0x7F80, 0x0008, 0x7F80));
  EXPECT_EQ(bits.back() & 0x7F80, 0x7F80);
  EXPECT_NE(bits.back() & 0x007F, 0);
}

TEST(GgufWriterTest, RandomValuesRoundToNearestEven) {
  // Random f32 bit patterns: every exponent for bf16, and exponents around
  // the half range (including its subnormals and overflow) for f16.
  std::mt19937 random(99);
  std::vector<float> bf16_inputs;
  std::vector<float> half_inputs;
  while (bf16_inputs.size() < 4000) {
    uint32_t bits = random();
    if ((bits & 0x7F800000u) == 0x7F800000u) continue;  // Skip infinities and NaN.
    bf16_inputs.push_back(std::bit_cast<float>(bits));
  }
  while (half_inputs.size() < 4000) {
    uint32_t exponent = 127 - 27 + random() % 45;  // 2^-27 to 2^17
    uint32_t bits = (random() & 0x807FFFFFu) | (exponent << 23);
    half_inputs.push_back(std::bit_cast<float>(bits));
  }

  GgufWriter writer;
  ASSERT_TRUE(writer.AddTensor("b", {bf16_inputs.size()}, GgufTensorType::kBF16, bf16_inputs).ok());
  ASSERT_TRUE(writer.AddTensor("h", {half_inputs.size()}, GgufTensorType::kF16, half_inputs).ok());
  std::string path = TempPath("random.gguf");
  ASSERT_TRUE(writer.WriteFile(path).ok());
  absl::StatusOr<GgufFile> file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();

  std::vector<float> bf16s = file->ReadTensorF32("b", {bf16_inputs.size()}).value();
  for (size_t i = 0; i < bf16_inputs.size(); ++i) {
    ASSERT_EQ(bf16s[i], RoundToBf16(bf16_inputs[i]))
        << "bf16 of " << bf16_inputs[i] << " (bits " << std::bit_cast<uint32_t>(bf16_inputs[i])
        << ")";
  }
  std::vector<float> halves = file->ReadTensorF32("h", {half_inputs.size()}).value();
  for (size_t i = 0; i < half_inputs.size(); ++i) {
    ASSERT_EQ(halves[i], RoundToHalf(half_inputs[i]))
        << "f16 of " << half_inputs[i] << " (bits " << std::bit_cast<uint32_t>(half_inputs[i])
        << ")";
  }
}

TEST(GgufWriterTest, AlignmentFromMetadata) {
  GgufWriter writer;
  writer.SetUint32("general.alignment", 64);
  ASSERT_TRUE(writer.AddTensor("a", {3}, GgufTensorType::kF32, {1, 2, 3}).ok());
  ASSERT_TRUE(writer.AddTensor("b", {5}, GgufTensorType::kF16, {1, 2, 3, 4, 5}).ok());
  std::string path = TempPath("aligned.gguf");
  ASSERT_TRUE(writer.WriteFile(path).ok());

  absl::StatusOr<GgufFile> file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->alignment(), 64u);
  EXPECT_EQ(file->GetUint32("general.alignment").value_or(0), 64u);
  EXPECT_EQ(file->data_offset() % 64, 0u);
  EXPECT_EQ(file->tensors()[1].offset - file->tensors()[0].offset, 64u);
  EXPECT_THAT(file->ReadTensorF32("b", {5}).value_or(std::vector<float>{}),
              ElementsAre(1, 2, 3, 4, 5));
}

TEST(GgufWriterTest, EmptyWriterMakesValidFile) {
  std::string path = TempPath("empty.gguf");
  ASSERT_TRUE(GgufWriter().WriteFile(path).ok());
  absl::StatusOr<GgufFile> file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(file->MetadataKeys().empty());
  EXPECT_TRUE(file->tensors().empty());
}

TEST(GgufWriterTest, AddTensorRejectsBadInput) {
  GgufWriter writer;
  ASSERT_TRUE(writer.AddTensor("t", {2}, GgufTensorType::kF32, {1, 2}).ok());

  absl::Status duplicate = writer.AddTensor("t", {2}, GgufTensorType::kF32, {1, 2});
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(duplicate.message(), HasSubstr("GGUF tensor t is already added"));

  absl::Status count = writer.AddTensor("u", {2, 3}, GgufTensorType::kF16, {1, 2, 3});
  EXPECT_THAT(count.message(), HasSubstr("GGUF tensor u has dims [2, 3] (6 values), but 3 values"));

  absl::Status zero = writer.AddTensor("u", {2, 0}, GgufTensorType::kF32, {});
  EXPECT_THAT(zero.message(), HasSubstr("dims [2, 0], expected every dimension to be at least 1"));

  absl::Status overflow =
      writer.AddTensor("u", {1ull << 32, 1ull << 32}, GgufTensorType::kF32, {});
  EXPECT_THAT(overflow.message(), HasSubstr("product to fit 64 bits"));

  absl::Status five_dims = writer.AddTensor("u", {1, 1, 1, 1, 1}, GgufTensorType::kF32, {1});
  EXPECT_THAT(five_dims.message(), HasSubstr("expected 1 to 4 dimensions"));

  absl::Status no_dims = writer.AddTensor("u", {}, GgufTensorType::kF32, {1});
  EXPECT_THAT(no_dims.message(), HasSubstr("expected 1 to 4 dimensions"));

  absl::Status long_name = writer.AddTensor(std::string(64, 'x'), {1}, GgufTensorType::kF32, {1});
  EXPECT_THAT(long_name.message(), HasSubstr("has 64 bytes, expected 1 to 63"));
  EXPECT_TRUE(writer.AddTensor(std::string(63, 'x'), {1}, GgufTensorType::kF32, {1}).ok());

  absl::Status no_name = writer.AddTensor("", {1}, GgufTensorType::kF32, {1});
  EXPECT_THAT(no_name.message(), HasSubstr("has 0 bytes"));
}

TEST(GgufWriterTest, WriteFileErrorsNamePath) {
  GgufWriter bad_alignment;
  bad_alignment.SetUint32("general.alignment", 48);
  std::string path = TempPath("bad.gguf");
  absl::Status not_power = bad_alignment.WriteFile(path);
  EXPECT_EQ(not_power.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(not_power.message(),
              HasSubstr(path + ": metadata key general.alignment is 48, expected a power of two"));

  GgufWriter wrong_type;
  wrong_type.SetUint64("general.alignment", 32);
  absl::Status not_uint32 = wrong_type.WriteFile(path);
  EXPECT_THAT(not_uint32.message(),
              HasSubstr("general.alignment is set as uint64, expected uint32"));
  EXPECT_FALSE(std::filesystem::exists(path));

  absl::Status no_folder = GgufWriter().WriteFile("/nonexistent-folder/model.gguf");
  EXPECT_FALSE(no_folder.ok());
  EXPECT_THAT(no_folder.message(), HasSubstr("/nonexistent-folder/model.gguf.tmp"));
}

}  // namespace
}  // namespace textgen
