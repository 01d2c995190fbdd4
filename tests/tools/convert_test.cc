// Tests of textgen-convert's parts: llama2.c, Hugging Face and random models
// to GGUF, checked against files written by llama.cpp, against llama2.c's
// greedy outputs, and by loading the results with the engine.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/format/gguf_model_reader.h"
#include "engine/format/gguf_reader.h"
#include "engine/format/gguf_writer.h"
#include "engine/format/llama2c_reader.h"
#include "engine/generate/generator.h"
#include "engine/model/model_loader.h"
#include "nlohmann/json.hpp"
#include "tests/test_paths.h"
#include "tools/convert/gguf_inspect.h"
#include "tools/convert/hf_import.h"
#include "tools/convert/llama2c_import.h"
#include "tools/convert/random_model.h"
#include "tools/convert/safetensors_reader.h"

namespace textgen {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

constexpr char kSpaceMarker[] = "\xE2\x96\x81";

// A folder in the test temporary directory, unique to the running test and
// process, removed at the end of the test.
class TempFolder {
 public:
  TempFolder() {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = absl::StrCat(::testing::TempDir(), "/convert_", test->test_suite_name(), "_",
                         test->name(), "_", getpid());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempFolder() { std::filesystem::remove_all(path_); }

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A tensor for a test safetensors file, its data already encoded.
struct TestTensor {
  std::string name;
  std::string dtype;
  std::vector<uint64_t> shape;
  std::string data;
};

std::string F32Bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

std::string Bf16Bytes(const std::vector<float>& values) {
  std::string bytes;
  for (float value : values) {
    uint16_t bits = FloatToBf16(value);
    bytes.append(reinterpret_cast<const char*>(&bits), sizeof(bits));
  }
  return bytes;
}

std::string F16Bytes(const std::vector<float>& values) {
  std::string bytes;
  for (float value : values) {
    uint16_t bits = FloatToHalf(value);
    bytes.append(reinterpret_cast<const char*>(&bits), sizeof(bits));
  }
  return bytes;
}

// Distinct values that bf16 and f16 store exactly: multiples of 1/64 below
// 2 in magnitude, different for each tensor and element.
std::vector<float> PatternValues(uint64_t count, int tensor_number) {
  std::vector<float> values(count);
  for (uint64_t i = 0; i < count; ++i) {
    values[i] = static_cast<float>(static_cast<int>((i * 7 + tensor_number * 13) % 241) - 120) /
                64.0f;
  }
  return values;
}

TestTensor F32Tensor(const std::string& name, std::vector<uint64_t> shape, int tensor_number) {
  uint64_t count = 1;
  for (uint64_t size : shape) count *= size;
  return {name, "F32", shape, F32Bytes(PatternValues(count, tensor_number))};
}

// Returns the bytes of a safetensors file holding `tensors` back to back.
std::string EncodeSafetensors(const std::vector<TestTensor>& tensors) {
  Json header = Json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::string data;
  for (const TestTensor& tensor : tensors) {
    header[tensor.name] = {{"dtype", tensor.dtype},
                           {"shape", tensor.shape},
                           {"data_offsets", {data.size(), data.size() + tensor.data.size()}}};
    data += tensor.data;
  }
  const std::string header_text = header.dump();
  uint64_t header_size = header_text.size();
  std::string file(reinterpret_cast<const char*>(&header_size), sizeof(header_size));
  return file + header_text + data;
}

// Returns a file with the given JSON header text followed by `data`.
std::string EncodeRawSafetensors(const std::string& header_text, const std::string& data) {
  uint64_t header_size = header_text.size();
  std::string file(reinterpret_cast<const char*>(&header_size), sizeof(header_size));
  return file + header_text + data;
}

// Returns element [row][col] of a GGUF matrix read as row-major
// [out_features, in_features].
float At(const std::vector<float>& matrix, uint64_t cols, uint64_t row, uint64_t col) {
  return matrix[row * cols + col];
}

std::vector<int32_t> GenerateTokens(LoadedModel& loaded, std::vector<int32_t> prompt,
                                    int max_new_tokens, GenerationResult* result_out = nullptr) {
  Generator generator(*loaded.model, *loaded.tokenizer, loaded.end_of_sequence_ids);
  GenerationRequest request;
  request.prompt = std::move(prompt);
  request.max_new_tokens = max_new_tokens;
  request.ignore_eos = true;
  std::vector<int32_t> tokens;
  GenerationCallbacks callbacks;
  callbacks.on_output = [&](const GenerationOutput& output) {
    if (output.token_id >= 0) tokens.push_back(output.token_id);
    return true;
  };
  callbacks.is_cancelled = [] { return false; };
  GenerationResult result = generator.Generate(request, callbacks);
  if (result_out != nullptr) *result_out = result;
  return tokens;
}

std::string StoriesPath(const std::string& file) {
  return testing::SharedPath("models/stories260K/" + file);
}

// ---------------------------------------------------------------------------
// llama2.c

class Llama2cImportTest : public ::testing::Test {
 protected:
  // Converts stories260K once to a GGUF file shared by the tests.
  static void SetUpTestSuite() {
    path_ = new std::string(absl::StrCat(::testing::TempDir(), "/convert_stories260K_", getpid(),
                                         ".gguf"));
    absl::StatusOr<GgufWriter> writer = ImportLlama2c(
        StoriesPath("stories260K.bin"), StoriesPath("tok512.bin"), GgufTensorType::kF32);
    ASSERT_TRUE(writer.ok()) << writer.status();
    absl::Status written = writer->WriteFile(*path_);
    ASSERT_TRUE(written.ok()) << written;
  }

  static void TearDownTestSuite() {
    std::filesystem::remove(*path_);
    delete path_;
    path_ = nullptr;
  }

  // Opens a GGUF file; value() on a failed open throws, which fails the
  // test with the status message.
  static GgufFile Open(const std::string& path) { return GgufFile::Open(path).value(); }

  static std::string* path_;
};

std::string* Llama2cImportTest::path_ = nullptr;

TEST_F(Llama2cImportTest, GreedyGenerationMatchesRunC) {
  ModelFiles files;
  files.model_path = *path_;
  absl::StatusOr<LoadedModel> loaded = LoadModel(files);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  Generator generator(*loaded->model, *loaded->tokenizer, loaded->end_of_sequence_ids);

  const std::string reference = testing::SharedPath("reference/stories260K-greedy.jsonl");
  std::ifstream in(reference);
  std::string line;
  int cases = 0;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    SCOPED_TRACE(absl::StrCat(reference, ":", number));
    const Json expected = Json::parse(line);
    ++cases;

    GenerationRequest request;
    request.prompt = loaded->tokenizer->Encode(expected["prompt"].get<std::string>(),
                                               loaded->add_bos);
    ASSERT_EQ(request.prompt, expected["prompt_token_ids"].get<std::vector<int32_t>>());
    request.max_new_tokens = 1 << 20;  // only EOS or the context ends it

    std::vector<int32_t> tokens;
    GenerationCallbacks callbacks;
    callbacks.on_output = [&](const GenerationOutput& output) {
      if (output.token_id >= 0) tokens.push_back(output.token_id);
      return true;
    };
    callbacks.is_cancelled = [] { return false; };
    GenerationResult result = generator.Generate(request, callbacks);

    EXPECT_EQ(tokens, expected["generated_token_ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(result.finish_reason, expected["finish"] == "eos" ? FinishReason::kEndOfSequence
                                                                : FinishReason::kLength);
  }
  EXPECT_GT(cases, 0) << "no cases in " << reference;
}

TEST_F(Llama2cImportTest, MetadataMatchesLlamaCpp) {
  GgufFile ours = Open(*path_);
  GgufFile theirs = Open(StoriesPath("stories260K.gguf"));

  for (const char* key :
       {"general.architecture", "tokenizer.ggml.model"}) {
    SCOPED_TRACE(key);
    EXPECT_EQ(ours.GetString(key).value(), theirs.GetString(key).value());
  }
  for (const char* key :
       {"llama.embedding_length", "llama.feed_forward_length", "llama.block_count",
        "llama.attention.head_count", "llama.attention.head_count_kv",
        "llama.rope.dimension_count", "tokenizer.ggml.bos_token_id",
        "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id"}) {
    SCOPED_TRACE(key);
    EXPECT_EQ(ours.GetUint32(key).value(), theirs.GetUint32(key).value());
  }
  EXPECT_EQ(ours.GetFloat32("llama.attention.layer_norm_rms_epsilon").value(),
            theirs.GetFloat32("llama.attention.layer_norm_rms_epsilon").value());
  EXPECT_EQ(ours.GetStringArray("tokenizer.ggml.tokens").value(),
            theirs.GetStringArray("tokenizer.ggml.tokens").value());
  EXPECT_EQ(ours.GetFloat32Array("tokenizer.ggml.scores").value(),
            theirs.GetFloat32Array("tokenizer.ggml.scores").value());
  EXPECT_EQ(ours.GetInt32Array("tokenizer.ggml.token_type").value(),
            theirs.GetInt32Array("tokenizer.ggml.token_type").value());

  // llama.cpp's converter writes its default context of 128; the checkpoint
  // was trained with 512.
  EXPECT_EQ(ours.GetUint32("llama.context_length").value(), 512u);
  EXPECT_EQ(ours.GetFloat32("llama.rope.freq_base").value(), 10000.0f);
  EXPECT_TRUE(ours.GetBool("tokenizer.ggml.add_bos_token").value());
  EXPECT_EQ(ours.GetString("general.name").value(), "stories260K");
}

TEST_F(Llama2cImportTest, TokenPiecesUseSentencePieceSpaces) {
  GgufFile ours = Open(*path_);
  std::vector<std::string> tokens = ours.GetStringArray("tokenizer.ggml.tokens").value();
  ASSERT_EQ(tokens.size(), 512u);
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(tokens[2], "</s>");
  EXPECT_EQ(tokens[3], "<0x00>");
  int with_marker = 0;
  for (const std::string& token : tokens) {
    EXPECT_EQ(token.find(' '), std::string::npos) << token;
    with_marker += token.find(kSpaceMarker) != std::string::npos ? 1 : 0;
  }
  EXPECT_GT(with_marker, 0);
  std::vector<int32_t> types = ours.GetInt32Array("tokenizer.ggml.token_type").value();
  EXPECT_THAT(std::vector<int32_t>(types.begin(), types.begin() + 4), ElementsAre(2, 3, 3, 6));
  EXPECT_EQ(types[258], 6);
  EXPECT_EQ(types[259], 1);
}

TEST_F(Llama2cImportTest, TensorsEqualLlamaCppFile) {
  GgufFile ours = Open(*path_);
  GgufFile theirs = Open(StoriesPath("stories260K.gguf"));

  for (const GgufTensorInfo& tensor : ours.tensors()) {
    SCOPED_TRACE(tensor.name);
    const GgufTensorInfo* other = theirs.FindTensor(tensor.name);
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(tensor.dims, other->dims);
    EXPECT_EQ(tensor.type, GgufTensorType::kF32);
    EXPECT_EQ(ours.ReadTensorF32(tensor.name, tensor.dims).value(),
              theirs.ReadTensorF32(tensor.name, other->dims).value());
  }

  // stories260K shares its classifier with the embedding. llama.cpp writes
  // a copy as output.weight; this converter leaves it out.
  EXPECT_EQ(ours.FindTensor("output.weight"), nullptr);
  EXPECT_EQ(ours.tensors().size() + 1, theirs.tensors().size());
  const GgufTensorInfo* embedding = ours.FindTensor("token_embd.weight");
  ASSERT_NE(embedding, nullptr);
  EXPECT_EQ(ours.ReadTensorF32("token_embd.weight", embedding->dims).value(),
            theirs.ReadTensorF32("output.weight", embedding->dims).value());
}

TEST_F(Llama2cImportTest, WeightsRoundTripThroughGguf) {
  absl::StatusOr<LlamaWeights> source = ReadLlama2cCheckpoint(StoriesPath("stories260K.bin"));
  ASSERT_TRUE(source.ok()) << source.status();
  GgufFile file = Open(*path_);
  absl::StatusOr<LlamaWeights> read = ReadLlamaWeights(file);
  ASSERT_TRUE(read.ok()) << read.status();

  EXPECT_EQ(read->config.dim, source->config.dim);
  EXPECT_EQ(read->config.hidden_dim, source->config.hidden_dim);
  EXPECT_EQ(read->config.n_layers, source->config.n_layers);
  EXPECT_EQ(read->config.n_heads, source->config.n_heads);
  EXPECT_EQ(read->config.n_kv_heads, source->config.n_kv_heads);
  EXPECT_EQ(read->config.vocab_size, source->config.vocab_size);
  EXPECT_EQ(read->config.context_length, source->config.context_length);
  EXPECT_TRUE(read->config.shared_classifier);
  EXPECT_EQ(read->token_embedding, source->token_embedding);
  EXPECT_EQ(read->final_norm, source->final_norm);
  ASSERT_EQ(read->layers.size(), source->layers.size());
  for (size_t l = 0; l < read->layers.size(); ++l) {
    SCOPED_TRACE(absl::StrCat("layer ", l));
    const LlamaLayerWeights& a = read->layers[l];
    const LlamaLayerWeights& b = source->layers[l];
    EXPECT_EQ(a.attention_norm, b.attention_norm);
    EXPECT_EQ(a.wq, b.wq);
    EXPECT_EQ(a.wk, b.wk);
    EXPECT_EQ(a.wv, b.wv);
    EXPECT_EQ(a.wo, b.wo);
    EXPECT_EQ(a.ffn_norm, b.ffn_norm);
    EXPECT_EQ(a.w_gate, b.w_gate);
    EXPECT_EQ(a.w_up, b.w_up);
    EXPECT_EQ(a.w_down, b.w_down);
  }
}

TEST_F(Llama2cImportTest, Bf16StoresRoundedMatricesAndF32Norms) {
  TempFolder folder;
  absl::StatusOr<GgufWriter> writer = ImportLlama2c(
      StoriesPath("stories260K.bin"), StoriesPath("tok512.bin"), GgufTensorType::kBF16);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE(writer->WriteFile(folder.File("bf16.gguf")).ok());
  GgufFile bf16 = Open(folder.File("bf16.gguf"));
  GgufFile f32 = Open(*path_);

  EXPECT_EQ(bf16.GetUint32("general.file_type").value(), 32u);
  for (const GgufTensorInfo& tensor : bf16.tensors()) {
    SCOPED_TRACE(tensor.name);
    const bool is_vector = tensor.dims.size() == 1;
    EXPECT_EQ(tensor.type, is_vector ? GgufTensorType::kF32 : GgufTensorType::kBF16);
    std::vector<float> expected = f32.ReadTensorF32(tensor.name, tensor.dims).value();
    if (!is_vector) {
      for (float& value : expected) value = Bf16ToFloat(FloatToBf16(value));
    }
    EXPECT_EQ(bf16.ReadTensorF32(tensor.name, tensor.dims).value(), expected);
  }
}

TEST(Llama2cImportErrorTest, TruncatedCheckpointNamesFile) {
  TempFolder folder;
  std::string bytes = ReadText(StoriesPath("stories260K.bin"));
  WriteText(folder.File("cut.bin"), bytes.substr(0, bytes.size() / 2));
  absl::StatusOr<GgufWriter> writer =
      ImportLlama2c(folder.File("cut.bin"), StoriesPath("tok512.bin"), GgufTensorType::kF32);
  ASSERT_FALSE(writer.ok());
  EXPECT_THAT(writer.status().message(), HasSubstr("cut.bin"));
  EXPECT_THAT(writer.status().message(), HasSubstr("file size"));
}

// ---------------------------------------------------------------------------
// Safetensors

TEST(SafetensorsReaderTest, ReadsF32F16AndBf16) {
  TempFolder folder;
  const std::vector<float> values = {1.0f, -2.5f, 0.015625f, 3.0f, 0.0f, -0.5f};
  WriteText(folder.File("m.safetensors"),
            EncodeSafetensors({{"a", "F32", {2, 3}, F32Bytes(values)},
                               {"b", "F16", {6}, F16Bytes(values)},
                               {"c", "BF16", {3, 2}, Bf16Bytes(values)},
                               {"d", "I64", {1}, std::string(8, '\0')}}));
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(folder.File("m.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->tensors().size(), 4u);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  for (const char* name : {"a", "b", "c"}) {
    SCOPED_TRACE(name);
    const SafetensorsTensor* tensor = file->Find(name);
    ASSERT_NE(tensor, nullptr);
    EXPECT_EQ(file->ReadF32(*tensor).value(), values);
  }
  EXPECT_THAT(file->Find("a")->shape, ElementsAre(2, 3));

  absl::StatusOr<std::vector<float>> integers = file->ReadF32(*file->Find("d"));
  ASSERT_FALSE(integers.ok());
  EXPECT_THAT(integers.status().message(), HasSubstr("tensor d has dtype I64"));
}

struct BadSafetensorsCase {
  const char* label;
  std::string bytes;
  std::vector<std::string> expected_parts;  // substrings of the error message
};

TEST(SafetensorsReaderTest, RejectsBadFiles) {
  const std::string good = EncodeSafetensors({F32Tensor("w", {2, 2}, 0)});
  uint64_t huge = 1ull << 40;
  std::string huge_header(reinterpret_cast<const char*>(&huge), 8);
  huge_header += "{}";

  const std::vector<BadSafetensorsCase> cases = {
      {"shorter than the length field", "abc", {"3 bytes long"}},
      {"header length beyond the file", huge_header, {"header length is 1099511627776"}},
      {"truncated data", good.substr(0, good.size() - 4), {"tensor w", "data_offsets [0, 16]",
                                                           "truncated"}},
      {"not JSON", EncodeRawSafetensors("{not json}", ""), {"not a valid UTF-8 JSON object"}},
      {"not an object", EncodeRawSafetensors("[1, 2]", ""), {"does not start with '{'"}},
      {"unknown dtype",
       EncodeRawSafetensors(R"({"w":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}})",
                            std::string(4, '\0')),
       {"tensor w", "dtype is \"F99\"", "expected one of"}},
      {"missing dtype",
       EncodeRawSafetensors(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0')),
       {"tensor w", "dtype is missing"}},
      {"negative shape",
       EncodeRawSafetensors(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})",
                            std::string(4, '\0')),
       {"tensor w", "shape is [-1]"}},
      {"size does not match shape",
       EncodeRawSafetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})",
                            std::string(4, '\0')),
       {"tensor w", "span 4 bytes", "expected 2 elements of F32"}},
      {"reversed offsets",
       EncodeRawSafetensors(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})",
                            std::string(4, '\0')),
       {"tensor w", "expected begin <= end"}},
      {"gap between tensors",
       EncodeRawSafetensors(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                            std::string(8, '\0')),
       {"tensor w starts at data offset 4, expected 0", "gaps"}},
      {"overlapping tensors",
       EncodeRawSafetensors(R"({"v":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                            std::string(8, '\0')),
       {"starts at data offset 4, expected 8", "overlapping"}},
      {"bytes after the last tensor",
       EncodeRawSafetensors(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                            std::string(6, '\0')),
       {"tensors end at data offset 4", "6 bytes"}},
      {"metadata not strings",
       EncodeRawSafetensors(R"({"__metadata__":{"format":1}})", ""),
       {"__metadata__.format is 1", "expected a string"}},
  };
  TempFolder folder;
  for (const BadSafetensorsCase& c : cases) {
    SCOPED_TRACE(c.label);
    const std::string path = folder.File("bad.safetensors");
    WriteText(path, c.bytes);
    absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
    ASSERT_FALSE(file.ok());
    EXPECT_THAT(file.status().message(), HasSubstr(path));
    for (const std::string& part : c.expected_parts) {
      EXPECT_THAT(file.status().message(), HasSubstr(part));
    }
  }
}

// ---------------------------------------------------------------------------
// Hugging Face GPT-2

constexpr uint64_t kGpt2Dim = 8;
constexpr uint64_t kGpt2Hidden = 32;
constexpr uint64_t kGpt2Positions = 16;
constexpr uint64_t kGpt2Vocab = 50257;

Json Gpt2ConfigJson() {
  return {{"model_type", "gpt2"},     {"n_embd", kGpt2Dim},       {"n_layer", 1},
          {"n_head", 2},              {"n_positions", kGpt2Positions}, {"vocab_size", kGpt2Vocab},
          {"layer_norm_epsilon", 1e-5}, {"activation_function", "gelu_new"},
          {"bos_token_id", 50256},    {"eos_token_id", 50256}};
}

// The tensors of a one-layer HF GPT-2 with Conv1D weights stored [in, out].
std::vector<TestTensor> Gpt2Tensors(const std::string& prefix) {
  const uint64_t d = kGpt2Dim, h = kGpt2Hidden;
  return {
      F32Tensor(prefix + "wte.weight", {kGpt2Vocab, d}, 1),
      F32Tensor(prefix + "wpe.weight", {kGpt2Positions, d}, 2),
      F32Tensor(prefix + "h.0.ln_1.weight", {d}, 3),
      F32Tensor(prefix + "h.0.ln_1.bias", {d}, 4),
      F32Tensor(prefix + "h.0.attn.c_attn.weight", {d, 3 * d}, 5),
      F32Tensor(prefix + "h.0.attn.c_attn.bias", {3 * d}, 6),
      F32Tensor(prefix + "h.0.attn.c_proj.weight", {d, d}, 7),
      F32Tensor(prefix + "h.0.attn.c_proj.bias", {d}, 8),
      F32Tensor(prefix + "h.0.ln_2.weight", {d}, 9),
      F32Tensor(prefix + "h.0.ln_2.bias", {d}, 10),
      F32Tensor(prefix + "h.0.mlp.c_fc.weight", {d, h}, 11),
      F32Tensor(prefix + "h.0.mlp.c_fc.bias", {h}, 12),
      F32Tensor(prefix + "h.0.mlp.c_proj.weight", {h, d}, 13),
      F32Tensor(prefix + "h.0.mlp.c_proj.bias", {d}, 14),
      F32Tensor(prefix + "ln_f.weight", {d}, 15),
      F32Tensor(prefix + "ln_f.bias", {d}, 16),
  };
}

void WriteGpt2Folder(const TempFolder& folder, const Json& config,
                     const std::vector<TestTensor>& tensors) {
  WriteText(folder.File("config.json"), config.dump());
  WriteText(folder.File("model.safetensors"), EncodeSafetensors(tensors));
  std::filesystem::copy_file(testing::SharedPath("models/gpt2/vocab.json"),
                             folder.File("vocab.json"));
  std::filesystem::copy_file(testing::SharedPath("models/gpt2/merges.txt"),
                             folder.File("merges.txt"));
}

// Converts `folder` and writes the result to folder/out.gguf.
absl::StatusOr<GgufFile> ConvertFolder(const TempFolder& folder,
                                       GgufTensorType type = GgufTensorType::kF32) {
  absl::StatusOr<GgufWriter> writer = ImportHfFolder(folder.path(), type);
  if (!writer.ok()) return writer.status();
  absl::Status written = writer->WriteFile(folder.File("out.gguf"));
  if (!written.ok()) return written;
  return GgufFile::Open(folder.File("out.gguf"));
}

TEST(HfGpt2ImportTest, TransposesConv1DWeights) {
  TempFolder folder;
  std::vector<TestTensor> tensors = Gpt2Tensors("");
  // Buffers that the converter skips.
  tensors.push_back(F32Tensor("h.0.attn.bias", {1, 1, kGpt2Positions, kGpt2Positions}, 17));
  tensors.push_back(F32Tensor("h.0.attn.masked_bias", {}, 18));
  WriteGpt2Folder(folder, Gpt2ConfigJson(), tensors);
  absl::StatusOr<GgufFile> file = ConvertFolder(folder);
  ASSERT_TRUE(file.ok()) << file.status();

  const uint64_t d = kGpt2Dim, h = kGpt2Hidden;
  struct Conv1D {
    const char* gguf_name;
    int tensor_number;
    uint64_t in, out;
  };
  for (const Conv1D& conv : {Conv1D{"blk.0.attn_qkv.weight", 5, d, 3 * d},
                             Conv1D{"blk.0.attn_output.weight", 7, d, d},
                             Conv1D{"blk.0.ffn_up.weight", 11, d, h},
                             Conv1D{"blk.0.ffn_down.weight", 13, h, d}}) {
    SCOPED_TRACE(conv.gguf_name);
    // GGUF dims {in, out}: a row-major [out, in] matrix.
    absl::StatusOr<std::vector<float>> matrix =
        file->ReadTensorF32(conv.gguf_name, {conv.in, conv.out});
    ASSERT_TRUE(matrix.ok()) << matrix.status();
    const std::vector<float> hf = PatternValues(conv.in * conv.out, conv.tensor_number);
    for (uint64_t o = 0; o < conv.out; ++o) {
      for (uint64_t i = 0; i < conv.in; ++i) {
        ASSERT_EQ(At(*matrix, conv.in, o, i), hf[i * conv.out + o]) << "row " << o << " col " << i;
      }
    }
  }
  EXPECT_EQ(file->ReadTensorF32("token_embd.weight", {d, kGpt2Vocab}).value(),
            PatternValues(kGpt2Vocab * d, 1));
  EXPECT_EQ(file->ReadTensorF32("position_embd.weight", {d, kGpt2Positions}).value(),
            PatternValues(kGpt2Positions * d, 2));
  EXPECT_EQ(file->ReadTensorF32("blk.0.attn_qkv.bias", {3 * d}).value(), PatternValues(3 * d, 6));
  EXPECT_EQ(file->ReadTensorF32("output_norm.bias", {d}).value(), PatternValues(d, 16));
}

TEST(HfGpt2ImportTest, WritesLlamaCppNamesAndMetadata) {
  TempFolder folder;
  WriteGpt2Folder(folder, Gpt2ConfigJson(), Gpt2Tensors("transformer."));
  absl::StatusOr<GgufFile> file = ConvertFolder(folder);
  ASSERT_TRUE(file.ok()) << file.status();

  std::vector<std::string> names;
  for (const GgufTensorInfo& tensor : file->tensors()) names.push_back(tensor.name);
  EXPECT_THAT(names,
              ElementsAre("token_embd.weight", "position_embd.weight", "blk.0.attn_norm.weight",
                          "blk.0.attn_norm.bias", "blk.0.attn_qkv.weight", "blk.0.attn_qkv.bias",
                          "blk.0.attn_output.weight", "blk.0.attn_output.bias",
                          "blk.0.ffn_norm.weight", "blk.0.ffn_norm.bias", "blk.0.ffn_up.weight",
                          "blk.0.ffn_up.bias", "blk.0.ffn_down.weight", "blk.0.ffn_down.bias",
                          "output_norm.weight", "output_norm.bias"));
  EXPECT_EQ(file->GetString("general.architecture").value(), "gpt2");
  EXPECT_EQ(file->GetUint32("gpt2.embedding_length").value(), kGpt2Dim);
  EXPECT_EQ(file->GetUint32("gpt2.feed_forward_length").value(), kGpt2Hidden);
  EXPECT_EQ(file->GetUint32("gpt2.context_length").value(), kGpt2Positions);
  EXPECT_EQ(file->GetUint32("gpt2.attention.head_count").value(), 2u);
  EXPECT_EQ(file->GetString("tokenizer.ggml.model").value(), "gpt2");
  EXPECT_EQ(file->GetUint32("tokenizer.ggml.eos_token_id").value(), 50256u);

  // The vocabulary equals llama.cpp's GPT-2 vocabulary file.
  absl::StatusOr<GgufFile> reference =
      GgufFile::Open(testing::SharedPath("models/gpt2/ggml-vocab-gpt-2.gguf"));
  ASSERT_TRUE(reference.ok()) << reference.status();
  for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.merges"}) {
    SCOPED_TRACE(key);
    EXPECT_EQ(file->GetStringArray(key).value(), reference->GetStringArray(key).value());
  }
  std::vector<int32_t> types = file->GetInt32Array("tokenizer.ggml.token_type").value();
  std::vector<int32_t> reference_types = reference->GetInt32Array("tokenizer.ggml.token_type").value();
  EXPECT_EQ(types, reference_types);
  EXPECT_EQ(types[50256], 3);
}

// Returns GPT-2's tokenizer as a tokenizer.json with merges as pairs.
Json Gpt2TokenizerJson() {
  Json vocab = Json::parse(ReadText(testing::SharedPath("models/gpt2/vocab.json")));
  Json merges = Json::array();
  std::istringstream lines(ReadText(testing::SharedPath("models/gpt2/merges.txt")));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    const size_t space = line.find(' ');
    merges.push_back({line.substr(0, space), line.substr(space + 1)});
  }

  return {{"version", "1.0"},
          {"added_tokens", {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}}},
          {"normalizer", nullptr},
          {"pre_tokenizer",
           {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
}

TEST(HfGpt2ImportTest, ReadsTokenizerJson) {
  TempFolder folder;
  WriteGpt2Folder(folder, Gpt2ConfigJson(), Gpt2Tensors(""));
  std::filesystem::remove(folder.File("vocab.json"));
  std::filesystem::remove(folder.File("merges.txt"));
  WriteText(folder.File("tokenizer.json"), Gpt2TokenizerJson().dump());
  absl::StatusOr<GgufFile> file = ConvertFolder(folder);
  ASSERT_TRUE(file.ok()) << file.status();

  absl::StatusOr<GgufFile> reference =
      GgufFile::Open(testing::SharedPath("models/gpt2/ggml-vocab-gpt-2.gguf"));
  ASSERT_TRUE(reference.ok()) << reference.status();
  for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.merges"}) {
    SCOPED_TRACE(key);
    EXPECT_EQ(file->GetStringArray(key).value(), reference->GetStringArray(key).value());
  }
  EXPECT_EQ(file->GetInt32Array("tokenizer.ggml.token_type").value(),
            reference->GetInt32Array("tokenizer.ggml.token_type").value());
}

TEST(HfGpt2ImportTest, RejectsOtherPreTokenizers) {
  TempFolder folder;
  WriteGpt2Folder(folder, Gpt2ConfigJson(), Gpt2Tensors(""));
  Json tokenizer = Gpt2TokenizerJson();
  tokenizer["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", "\\p{N}{1,3}"}}}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  WriteText(folder.File("tokenizer.json"), tokenizer.dump());
  absl::StatusOr<GgufWriter> writer = ImportHfFolder(folder.path(), GgufTensorType::kF32);
  ASSERT_FALSE(writer.ok());
  EXPECT_THAT(writer.status().message(), HasSubstr(folder.File("tokenizer.json")));
  EXPECT_THAT(writer.status().message(), HasSubstr("expected a single ByteLevel pre-tokenizer"));
  EXPECT_THAT(writer.status().message(), HasSubstr("supported are"));
}

TEST(HfGpt2ImportTest, ConvertedModelGenerates) {
  TempFolder folder;
  std::vector<TestTensor> tensors = Gpt2Tensors("");
  // An untied classifier, stored as bf16 to exercise the conversion.
  tensors.push_back({"lm_head.weight", "BF16", {kGpt2Vocab, kGpt2Dim},
                     Bf16Bytes(PatternValues(kGpt2Vocab * kGpt2Dim, 19))});
  Json config = Gpt2ConfigJson();
  config["tie_word_embeddings"] = false;
  WriteGpt2Folder(folder, config, tensors);
  absl::StatusOr<GgufFile> file = ConvertFolder(folder, GgufTensorType::kBF16);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_NE(file->FindTensor("output.weight"), nullptr);
  EXPECT_EQ(file->ReadTensorF32("output.weight", {kGpt2Dim, kGpt2Vocab}).value(),
            PatternValues(kGpt2Vocab * kGpt2Dim, 19));

  ModelFiles files;
  files.model_path = folder.File("out.gguf");
  absl::StatusOr<LoadedModel> loaded = LoadModel(files);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->tokenizer->Encode("Hello world", false), (std::vector<int32_t>{15496, 995}));
  GenerationResult result;
  std::vector<int32_t> tokens = GenerateTokens(*loaded, {15496, 995}, 5, &result);
  EXPECT_EQ(tokens.size(), 5u);
  EXPECT_EQ(result.generated_tokens, 5);
}

// ---------------------------------------------------------------------------
// Hugging Face Llama

constexpr int kLlamaDim = 16;
constexpr int kLlamaHidden = 24;
constexpr int kLlamaHeads = 4;
constexpr int kLlamaKvHeads = 2;
constexpr int kLlamaHeadDim = kLlamaDim / kLlamaHeads;

// A SentencePiece-style tokenizer.json: <unk>, <s>, </s>, the 256 byte
// pieces, then a few pieces with merges "▁ a" (rank 0), "a b" (rank 1) and
// "▁a b" (rank 2).
Json LlamaTokenizerJson() {
  Json vocab = Json::object();
  vocab["<unk>"] = 0;
  vocab["<s>"] = 1;
  vocab["</s>"] = 2;
  for (int byte = 0; byte < 256; ++byte) {
    char piece[8];
    std::snprintf(piece, sizeof(piece), "<0x%02X>", byte);
    vocab[piece] = 3 + byte;
  }

  const std::string space = kSpaceMarker;
  int id = 259;
  for (const std::string& piece : {space, std::string("a"), std::string("b"), std::string("c"),
                                   space + "a", std::string("ab"), space + "ab"}) {
    vocab[piece] = id++;
  }

  const char* special_tokens[] = {"<unk>", "<s>", "</s>"};
  Json added = Json::array();
  for (int i = 0; i < 3; ++i) {
    added.push_back({{"id", i}, {"content", special_tokens[i]}, {"special", true}});
  }

  return {{"version", "1.0"},
          {"added_tokens", added},
          {"normalizer",
           {{"type", "Sequence"},
            {"normalizers",
             {{{"type", "Prepend"}, {"prepend", space}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}}}}}},
          {"pre_tokenizer", nullptr},
          {"model",
           {{"type", "BPE"},
            {"byte_fallback", true},
            {"unk_token", "<unk>"},
            {"vocab", vocab},
            // Both spellings of a merge appear in real files.
            {"merges", {space + " a", Json::array({"a", "b"}), space + "a b"}}}}};
}

constexpr int kLlamaVocab = 266;

Json LlamaConfigJson() {
  return {{"model_type", "llama"},
          {"hidden_size", kLlamaDim},
          {"intermediate_size", kLlamaHidden},
          {"num_hidden_layers", 1},
          {"num_attention_heads", kLlamaHeads},
          {"num_key_value_heads", kLlamaKvHeads},
          {"max_position_embeddings", 32},
          {"vocab_size", kLlamaVocab},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 10000.0},
          {"hidden_act", "silu"},
          {"tie_word_embeddings", false},
          {"bos_token_id", 1},
          {"eos_token_id", 2}};
}

std::vector<TestTensor> LlamaTensors() {
  const uint64_t d = kLlamaDim, h = kLlamaHidden, kv = kLlamaKvHeads * kLlamaHeadDim;
  const uint64_t v = kLlamaVocab;
  return {
      F32Tensor("model.embed_tokens.weight", {v, d}, 1),
      F32Tensor("model.layers.0.input_layernorm.weight", {d}, 2),
      F32Tensor("model.layers.0.self_attn.q_proj.weight", {d, d}, 3),
      F32Tensor("model.layers.0.self_attn.k_proj.weight", {kv, d}, 4),
      F32Tensor("model.layers.0.self_attn.v_proj.weight", {kv, d}, 5),
      F32Tensor("model.layers.0.self_attn.o_proj.weight", {d, d}, 6),
      F32Tensor("model.layers.0.post_attention_layernorm.weight", {d}, 7),
      F32Tensor("model.layers.0.mlp.gate_proj.weight", {h, d}, 8),
      F32Tensor("model.layers.0.mlp.up_proj.weight", {h, d}, 9),
      F32Tensor("model.layers.0.mlp.down_proj.weight", {d, h}, 10),
      F32Tensor("model.norm.weight", {d}, 11),
      F32Tensor("lm_head.weight", {v, d}, 12),
      F32Tensor("model.layers.0.self_attn.rotary_emb.inv_freq", {kLlamaHeadDim / 2}, 13),
  };
}

void WriteLlamaFolder(const TempFolder& folder, const Json& config, const Json& tokenizer,
                      const std::vector<TestTensor>& tensors) {
  WriteText(folder.File("config.json"), config.dump());
  WriteText(folder.File("tokenizer.json"), tokenizer.dump());
  // Two shards, as large models are stored.
  std::vector<TestTensor> first(tensors.begin(), tensors.begin() + tensors.size() / 2);
  std::vector<TestTensor> second(tensors.begin() + tensors.size() / 2, tensors.end());
  WriteText(folder.File("model-00001-of-00002.safetensors"), EncodeSafetensors(first));
  WriteText(folder.File("model-00002-of-00002.safetensors"), EncodeSafetensors(second));
}

TEST(HfLlamaImportTest, PermutesQueryAndKeyRows) {
  TempFolder folder;
  WriteLlamaFolder(folder, LlamaConfigJson(), LlamaTokenizerJson(), LlamaTensors());
  absl::StatusOr<GgufFile> file = ConvertFolder(folder);
  ASSERT_TRUE(file.ok()) << file.status();

  // With head_dim 4, the rows of each head come from HF rows 0, 2, 1, 3 of
  // that head: GGUF row 2i is HF row i, and GGUF row 2i + 1 is HF row
  // head_dim / 2 + i.
  const int kHfRowOfGgufRow[kLlamaHeadDim] = {0, 2, 1, 3};
  struct Projection {
    const char* gguf_name;
    int tensor_number;
    int heads;
  };
  for (const Projection& projection : {Projection{"blk.0.attn_q.weight", 3, kLlamaHeads},
                                       Projection{"blk.0.attn_k.weight", 4, kLlamaKvHeads}}) {
    SCOPED_TRACE(projection.gguf_name);
    const uint64_t rows = projection.heads * kLlamaHeadDim;
    absl::StatusOr<std::vector<float>> matrix =
        file->ReadTensorF32(projection.gguf_name, {kLlamaDim, rows});
    ASSERT_TRUE(matrix.ok()) << matrix.status();
    const std::vector<float> hf = PatternValues(rows * kLlamaDim, projection.tensor_number);
    for (int head = 0; head < projection.heads; ++head) {
      for (int r = 0; r < kLlamaHeadDim; ++r) {
        const uint64_t gguf_row = head * kLlamaHeadDim + r;
        const uint64_t hf_row = head * kLlamaHeadDim + kHfRowOfGgufRow[r];
        for (uint64_t col = 0; col < kLlamaDim; ++col) {
          ASSERT_EQ(At(*matrix, kLlamaDim, gguf_row, col), hf[hf_row * kLlamaDim + col])
              << "head " << head << " row " << r << " col " << col;
        }
      }
    }
  }

  // v, o and the feed-forward matrices are copied unchanged.
  const uint64_t kv = kLlamaKvHeads * kLlamaHeadDim;
  EXPECT_EQ(file->ReadTensorF32("blk.0.attn_v.weight", {kLlamaDim, kv}).value(),
            PatternValues(kv * kLlamaDim, 5));
  EXPECT_EQ(file->ReadTensorF32("blk.0.ffn_down.weight", {kLlamaHidden, kLlamaDim}).value(),
            PatternValues(kLlamaDim * kLlamaHidden, 10));
  EXPECT_EQ(file->ReadTensorF32("output.weight", {kLlamaDim, kLlamaVocab}).value(),
            PatternValues(kLlamaVocab * kLlamaDim, 12));
}

TEST(HfLlamaImportTest, PermuteRotaryRowsMovesPairsTogether) {
  // Two heads of head_dim 6, one column: row r of head h is 10 h + r.
  const std::vector<float> hf = {0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15};
  EXPECT_THAT(PermuteRotaryRows(hf, 2, 6, 1),
              ElementsAre(0, 3, 1, 4, 2, 5, 10, 13, 11, 14, 12, 15));
}

TEST(HfLlamaImportTest, TokenizerScoresFollowMergeRanks) {
  TempFolder folder;
  WriteLlamaFolder(folder, LlamaConfigJson(), LlamaTokenizerJson(), LlamaTensors());
  absl::StatusOr<GgufFile> file = ConvertFolder(folder);
  ASSERT_TRUE(file.ok()) << file.status();

  EXPECT_EQ(file->GetString("tokenizer.ggml.model").value(), "llama");
  std::vector<float> scores = file->GetFloat32Array("tokenizer.ggml.scores").value();
  std::vector<int32_t> types = file->GetInt32Array("tokenizer.ggml.token_type").value();
  ASSERT_EQ(scores.size(), static_cast<size_t>(kLlamaVocab));
  // "▁a" (id 263) is merge 0, "ab" (264) merge 1, "▁ab" (265) merge 2; the
  // rest are made by no merge and score below all three.
  EXPECT_EQ(scores[263], 0.0f);
  EXPECT_EQ(scores[264], -1.0f);
  EXPECT_EQ(scores[265], -2.0f);
  EXPECT_EQ(scores[259], -3.0f);
  EXPECT_THAT(std::vector<int32_t>(types.begin(), types.begin() + 4), ElementsAre(2, 3, 3, 6));
  EXPECT_EQ(types[258], 6);
  EXPECT_EQ(types[259], 1);
  EXPECT_EQ(file->GetUint32("tokenizer.ggml.unknown_token_id").value(), 0u);
  EXPECT_TRUE(file->GetBool("tokenizer.ggml.add_bos_token").value());
  EXPECT_FALSE(file->HasKey("tokenizer.ggml.merges"));
}

TEST(HfLlamaImportTest, ConvertedModelTokenizesAndGenerates) {
  TempFolder folder;
  WriteLlamaFolder(folder, LlamaConfigJson(), LlamaTokenizerJson(), LlamaTensors());
  ASSERT_TRUE(ConvertFolder(folder).ok());

  ModelFiles files;
  files.model_path = folder.File("out.gguf");
  absl::StatusOr<LoadedModel> loaded = LoadModel(files);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  // The dummy prefix space makes "ab" the symbols ▁, a, b; merge 0 makes ▁a,
  // and merge 2 makes ▁ab.
  EXPECT_EQ(loaded->tokenizer->Encode("ab", true), (std::vector<int32_t>{1, 265}));
  // "c" has no merge, and "é" has no piece, so it falls back to bytes.
  EXPECT_EQ(loaded->tokenizer->Encode("c\xC3\xA9", false),
            (std::vector<int32_t>{259, 262, 3 + 0xC3, 3 + 0xA9}));
  std::vector<int32_t> tokens = GenerateTokens(*loaded, {1, 265}, 6);
  EXPECT_EQ(tokens.size(), 6u);
}

TEST(HfLlamaImportTest, ReadsRopeThetaFromRopeParameters) {
  TempFolder folder;
  Json config = LlamaConfigJson();
  config.erase("rope_theta");
  config["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 500000.0}};
  WriteLlamaFolder(folder, config, LlamaTokenizerJson(), LlamaTensors());
  absl::StatusOr<GgufFile> file = ConvertFolder(folder);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->GetFloat32("llama.rope.freq_base").value(), 500000.0f);
  EXPECT_EQ(file->GetFloat32("llama.attention.layer_norm_rms_epsilon").value(), 1e-5f);
  EXPECT_EQ(file->GetUint32("llama.attention.head_count_kv").value(), 2u);
}

TEST(HfLlamaImportTest, TiedEmbeddingWritesNoOutput) {
  TempFolder folder;
  std::vector<TestTensor> tensors = LlamaTensors();
  tensors.erase(tensors.begin() + 11);  // lm_head.weight
  Json config = LlamaConfigJson();
  config["tie_word_embeddings"] = true;
  WriteLlamaFolder(folder, config, LlamaTokenizerJson(), tensors);
  absl::StatusOr<GgufFile> file = ConvertFolder(folder);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->FindTensor("output.weight"), nullptr);
}

TEST(HfLlamaImportTest, PadsVocabularyToEmbeddingRows) {
  TempFolder folder;
  Json config = LlamaConfigJson();
  config["vocab_size"] = kLlamaVocab + 2;
  std::vector<TestTensor> tensors = LlamaTensors();
  tensors[0] = F32Tensor("model.embed_tokens.weight", {kLlamaVocab + 2, kLlamaDim}, 1);
  tensors[11] = F32Tensor("lm_head.weight", {kLlamaVocab + 2, kLlamaDim}, 12);
  WriteLlamaFolder(folder, config, LlamaTokenizerJson(), tensors);
  absl::StatusOr<GgufFile> file = ConvertFolder(folder);
  ASSERT_TRUE(file.ok()) << file.status();
  std::vector<std::string> tokens = file->GetStringArray("tokenizer.ggml.tokens").value();
  ASSERT_EQ(tokens.size(), static_cast<size_t>(kLlamaVocab + 2));
  EXPECT_EQ(tokens[kLlamaVocab], absl::StrCat("[PAD", kLlamaVocab, "]"));
  EXPECT_EQ((file->GetInt32Array("tokenizer.ggml.token_type").value())[kLlamaVocab], 5);
}

// ---------------------------------------------------------------------------
// Hugging Face errors

struct BadFolderCase {
  const char* label;
  std::function<void(Json& config, Json& tokenizer, std::vector<TestTensor>& tensors)> change;
  std::vector<std::string> expected_parts;
};

TEST(HfImportErrorTest, BadLlamaFoldersNameFileAndField) {
  const std::vector<BadFolderCase> cases = {
      {"missing config key", [](Json& c, Json&, auto&) { c.erase("hidden_size"); },
       {"config.json", "key hidden_size is missing"}},
      {"unknown model_type", [](Json& c, Json&, auto&) { c["model_type"] = "bert"; },
       {"config.json", "model_type is \"bert\"", "expected \"gpt2\" or \"llama\""}},
      {"missing model_type", [](Json& c, Json&, auto&) { c.erase("model_type"); },
       {"config.json", "model_type is missing"}},
      {"non-integer size", [](Json& c, Json&, auto&) { c["num_hidden_layers"] = "one"; },
       {"config.json", "num_hidden_layers is \"one\"", "expected an integer"}},
      {"heads do not divide", [](Json& c, Json&, auto&) { c["num_key_value_heads"] = 3; },
       {"config.json", "num_key_value_heads is 3"}},
      {"rope scaling", [](Json& c, Json&, auto&) { c["rope_scaling"] = {{"type", "linear"}}; },
       {"config.json", "rope_scaling.type is \"linear\"", "not supported"}},
      {"rope parameters",
       [](Json& c, Json&, auto&) { c["rope_parameters"] = {{"rope_type", "llama3"}}; },
       {"config.json", "rope_parameters.rope_type is \"llama3\"", "not supported"}},
      {"no byte fallback", [](Json&, Json& t, auto&) { t["model"]["byte_fallback"] = false; },
       {"tokenizer.json", "byte_fallback is false", "supported are"}},
      {"byte-level tokenizer",
       [](Json&, Json& t, auto&) { t["pre_tokenizer"] = {{"type", "ByteLevel"}}; },
       {"tokenizer.json", "byte-level", "supported are"}},
      {"unigram tokenizer", [](Json&, Json& t, auto&) { t["model"]["type"] = "Unigram"; },
       {"tokenizer.json", "model.type is \"Unigram\"", "supported are"}},
      {"missing byte piece",
       [](Json&, Json& t, auto&) {
         t["model"]["vocab"].erase("<0x41>");
         t["model"]["vocab"]["A"] = 3 + 0x41;
       },
       {"tokenizer.json", "no byte piece <0x41>"}},
      {"missing tensor", [](Json&, Json&, auto& tensors) { tensors.erase(tensors.begin() + 3); },
       {"tensor model.layers.0.self_attn.k_proj.weight is missing", "expected shape [8, 16]"}},
      {"wrong shape",
       [](Json&, Json&, auto& tensors) {
         tensors[2] = F32Tensor("model.layers.0.self_attn.q_proj.weight", {16, 8}, 3);
       },
       {".safetensors", "tensor model.layers.0.self_attn.q_proj.weight has shape [16, 8]",
        "expected [16, 16]"}},
      {"unsupported dtype",
       [](Json&, Json&, auto& tensors) {
         tensors[1] = {"model.layers.0.input_layernorm.weight", "I64", {kLlamaDim},
                       std::string(8 * kLlamaDim, '\0')};
       },
       {".safetensors", "tensor model.layers.0.input_layernorm.weight has dtype I64",
        "expected F32, F16 or BF16"}},
      {"unknown tensor",
       [](Json&, Json&, auto& tensors) {
         tensors.push_back(F32Tensor("model.layers.0.extra.weight", {2}, 20));
       },
       {"tensors the converter does not know", "model.layers.0.extra.weight"}},
      {"tokenizer larger than vocab_size", [](Json& c, Json&, auto&) { c["vocab_size"] = 100; },
       {"266 tokens", "vocab_size is 100"}},
  };
  for (const BadFolderCase& c : cases) {
    SCOPED_TRACE(c.label);
    TempFolder folder;
    Json config = LlamaConfigJson();
    Json tokenizer = LlamaTokenizerJson();
    std::vector<TestTensor> tensors = LlamaTensors();
    c.change(config, tokenizer, tensors);
    WriteLlamaFolder(folder, config, tokenizer, tensors);
    absl::StatusOr<GgufWriter> writer = ImportHfFolder(folder.path(), GgufTensorType::kF32);
    ASSERT_FALSE(writer.ok());
    for (const std::string& part : c.expected_parts) {
      EXPECT_THAT(writer.status().message(), HasSubstr(part));
    }
  }
}

TEST(HfImportErrorTest, BadGpt2FoldersNameFileAndField) {
  {
    TempFolder folder;
    Json config = Gpt2ConfigJson();
    config.erase("n_embd");
    WriteGpt2Folder(folder, config, Gpt2Tensors(""));
    absl::StatusOr<GgufWriter> writer = ImportHfFolder(folder.path(), GgufTensorType::kF32);
    ASSERT_FALSE(writer.ok());
    EXPECT_THAT(writer.status().message(), HasSubstr(folder.File("config.json")));
    EXPECT_THAT(writer.status().message(), HasSubstr("key n_embd is missing"));
  }
  {
    TempFolder folder;
    Json config = Gpt2ConfigJson();
    config["activation_function"] = "relu";
    WriteGpt2Folder(folder, config, Gpt2Tensors(""));
    absl::StatusOr<GgufWriter> writer = ImportHfFolder(folder.path(), GgufTensorType::kF32);
    ASSERT_FALSE(writer.ok());
    EXPECT_THAT(writer.status().message(), HasSubstr("activation_function is \"relu\""));
  }
  {
    TempFolder folder;
    WriteGpt2Folder(folder, Gpt2ConfigJson(), Gpt2Tensors(""));
    std::filesystem::remove(folder.File("merges.txt"));
    absl::StatusOr<GgufWriter> writer = ImportHfFolder(folder.path(), GgufTensorType::kF32);
    ASSERT_FALSE(writer.ok());
    EXPECT_THAT(writer.status().message(), HasSubstr("no tokenizer found"));
    EXPECT_THAT(writer.status().message(), HasSubstr("vocab.json with merges.txt"));
  }
  {
    TempFolder folder;
    WriteGpt2Folder(folder, Gpt2ConfigJson(), Gpt2Tensors(""));
    const std::string path = folder.File("model.safetensors");
    const std::string bytes = ReadText(path);
    WriteText(path, bytes.substr(0, bytes.size() - 100));
    absl::StatusOr<GgufWriter> writer = ImportHfFolder(folder.path(), GgufTensorType::kF32);
    ASSERT_FALSE(writer.ok());
    EXPECT_THAT(writer.status().message(), HasSubstr(path));
    EXPECT_THAT(writer.status().message(), HasSubstr("truncated"));
  }
  {
    TempFolder folder;
    WriteGpt2Folder(folder, Gpt2ConfigJson(), Gpt2Tensors(""));
    std::filesystem::remove(folder.File("model.safetensors"));
    absl::StatusOr<GgufWriter> writer = ImportHfFolder(folder.path(), GgufTensorType::kF32);
    ASSERT_FALSE(writer.ok());
    EXPECT_THAT(writer.status().message(), HasSubstr("no *.safetensors file"));
  }
}

// ---------------------------------------------------------------------------
// Random models

class RandomModelTest : public ::testing::Test {
 protected:
  static absl::StatusOr<LoadedModel> BuildAndLoad(const TempFolder& folder,
                                                  RandomModelOptions options) {
    absl::StatusOr<GgufWriter> writer = BuildRandomModel(options);
    if (!writer.ok()) return writer.status();
    const std::string path = folder.File(options.shape + ".gguf");
    absl::Status written = writer->WriteFile(path);
    if (!written.ok()) return written;
    ModelFiles files;
    files.model_path = path;
    return LoadModel(files);
  }
};

TEST_F(RandomModelTest, Gpt2TinyLoadsAndGenerates) {
  TempFolder folder;
  RandomModelOptions options;
  options.shape = "gpt2-tiny";
  options.matrix_type = GgufTensorType::kBF16;
  options.vocab_path = testing::SharedPath("models/gpt2/ggml-vocab-gpt-2.gguf");
  absl::StatusOr<LoadedModel> loaded = BuildAndLoad(folder, options);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->model->description().architecture, "gpt2");
  EXPECT_EQ(loaded->model->description().vocab_size, 50257);
  GenerationResult result;
  std::vector<int32_t> tokens =
      GenerateTokens(*loaded, loaded->tokenizer->Encode("Hello world", false), 8, &result);
  EXPECT_EQ(tokens.size(), 8u);
  EXPECT_EQ(result.finish_reason, FinishReason::kLength);
}

TEST_F(RandomModelTest, LlamaTinyLoadsAndGenerates) {
  TempFolder folder;
  RandomModelOptions options;
  options.shape = "llama-tiny";
  absl::StatusOr<LoadedModel> loaded = BuildAndLoad(folder, options);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->model->description().architecture, "llama");
  EXPECT_EQ(loaded->model->description().vocab_size, 512);
  EXPECT_LT(std::filesystem::file_size(folder.File("llama-tiny.gguf")), 1u << 20);
  std::vector<int32_t> prompt = loaded->tokenizer->Encode("Once upon a time", true);
  EXPECT_EQ(prompt.front(), 1);
  std::vector<int32_t> tokens = GenerateTokens(*loaded, prompt, 8);
  EXPECT_EQ(tokens.size(), 8u);
}

TEST_F(RandomModelTest, WeightsAreReproducibleAndNormal) {
  TempFolder folder;
  RandomModelOptions options;
  options.shape = "llama-tiny";
  options.seed = 7;
  ASSERT_TRUE(BuildRandomModel(options)->WriteFile(folder.File("a.gguf")).ok());
  ASSERT_TRUE(BuildRandomModel(options)->WriteFile(folder.File("b.gguf")).ok());
  options.seed = 8;
  ASSERT_TRUE(BuildRandomModel(options)->WriteFile(folder.File("c.gguf")).ok());
  EXPECT_EQ(ReadText(folder.File("a.gguf")), ReadText(folder.File("b.gguf")));
  EXPECT_NE(ReadText(folder.File("a.gguf")), ReadText(folder.File("c.gguf")));

  absl::StatusOr<GgufFile> file = GgufFile::Open(folder.File("a.gguf"));
  ASSERT_TRUE(file.ok()) << file.status();
  // 512 x 64 samples: the mean and standard deviation are within a few
  // standard errors (0.02 / sqrt(32768) = 1.1e-4 for the mean).
  std::vector<float> embedding = file->ReadTensorF32("token_embd.weight", {64, 512}).value();
  double sum = 0, sum_squares = 0;
  for (float value : embedding) {
    sum += value;
    sum_squares += static_cast<double>(value) * value;
  }
  const double mean = sum / embedding.size();
  const double stddev = std::sqrt(sum_squares / embedding.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 6e-4);
  EXPECT_NEAR(stddev, 0.02, 0.0005);
  // Different tensors get different streams.
  std::vector<float> output = file->ReadTensorF32("output.weight", {64, 512}).value();
  EXPECT_NE(output, embedding);
  EXPECT_EQ(file->ReadTensorF32("output_norm.weight", {64}).value(), std::vector<float>(64, 1.0f));
}

TEST_F(RandomModelTest, Gpt2WithoutVocabularyFails) {
  RandomModelOptions options;
  options.shape = "gpt2-124m";
  absl::StatusOr<GgufWriter> writer = BuildRandomModel(options);
  ASSERT_FALSE(writer.ok());
  EXPECT_THAT(writer.status().message(), HasSubstr("--vocab"));
}

TEST_F(RandomModelTest, LlamaWithVocabularyFails) {
  RandomModelOptions options;
  options.shape = "llama-tiny";
  options.vocab_path = testing::SharedPath("models/gpt2/ggml-vocab-gpt-2.gguf");
  absl::StatusOr<GgufWriter> writer = BuildRandomModel(options);
  ASSERT_FALSE(writer.ok());
  EXPECT_THAT(writer.status().message(), HasSubstr("--vocab applies to GPT-2 shapes only"));
}

TEST_F(RandomModelTest, UnknownShapeListsKnownOnes) {
  RandomModelOptions options;
  options.shape = "gpt5";
  absl::StatusOr<GgufWriter> writer = BuildRandomModel(options);
  ASSERT_FALSE(writer.ok());
  EXPECT_THAT(writer.status().message(), HasSubstr("\"gpt5\""));
  EXPECT_THAT(writer.status().message(), HasSubstr("llama-110m"));
}

TEST(SyntheticVocabularyTest, HasSpecialAndBytePiecesAndUniqueTokens) {
  TokenizerMetadata vocabulary = SyntheticSentencePieceVocabulary(32000);
  ASSERT_EQ(vocabulary.tokens.size(), 32000u);
  EXPECT_EQ(vocabulary.tokens[0], "<unk>");
  EXPECT_EQ(vocabulary.tokens[3], "<0x00>");
  EXPECT_EQ(vocabulary.tokens[258], "<0xFF>");
  EXPECT_EQ(vocabulary.tokens[259], kSpaceMarker);
  std::set<std::string> unique(vocabulary.tokens.begin(), vocabulary.tokens.end());
  EXPECT_EQ(unique.size(), vocabulary.tokens.size());
  EXPECT_TRUE(vocabulary.Validate("synthetic").ok());
}

// ---------------------------------------------------------------------------
// Inspect

TEST(GgufInspectTest, ListsMetadataAndTensors) {
  absl::StatusOr<GgufFile> file = GgufFile::Open(StoriesPath("stories260K.gguf"));
  ASSERT_TRUE(file.ok()) << file.status();
  const std::string text = DescribeGgufFile(*file);
  EXPECT_THAT(text, HasSubstr("GGUF version 3, 19 metadata keys, 48 tensors"));
  EXPECT_THAT(text, HasSubstr("  general.architecture = string \"llama\"\n"));
  EXPECT_THAT(text, HasSubstr("  blk.0.attn_k.weight [64, 32] F32\n"));
}

}  // namespace
}  // namespace textgen
