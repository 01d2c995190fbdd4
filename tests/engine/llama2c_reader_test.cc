#include "engine/format/llama2c_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/test_paths.h"

namespace textgen {
namespace {

using ::testing::HasSubstr;

const std::string kModel = testing::SharedPath("models/stories260K/stories260K.bin");
const std::string kTokenizer = testing::SharedPath("models/stories260K/tok512.bin");

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Writes `bytes` to a fresh file in the test's temporary folder.
std::string WriteTemp(const std::string& name, const std::string& bytes) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(Llama2cCheckpointTest, ReadsStories260KHeader) {
  absl::StatusOr<LlamaWeights> weights = ReadLlama2cCheckpoint(kModel);
  ASSERT_TRUE(weights.ok()) << weights.status();

  // The model's published shape: dim 64, hidden 172, 5 layers, 8 heads,
  // 4 kv heads, vocab 512, context 512, shared classifier.
  const LlamaConfig& c = weights->config;
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.context_length, 512);
  EXPECT_TRUE(c.shared_classifier);
  EXPECT_TRUE(weights->classifier.empty());
  ASSERT_EQ(weights->layers.size(), 5u);
  EXPECT_EQ(weights->layers[4].wk.size(), 32u * 64u);
}

TEST(Llama2cCheckpointTest, TensorsComeFromTheRightOffsets) {
  absl::StatusOr<LlamaWeights> weights = ReadLlama2cCheckpoint(kModel);
  ASSERT_TRUE(weights.ok()) << weights.status();
  std::string bytes = ReadAll(kModel);

  // The first embedding value follows the 28-byte header; the final norm
  // sits just before the freq_cis tables (512 positions * 8 floats) at the end.
  float first_embedding, last_final_norm;
  std::memcpy(&first_embedding, bytes.data() + 28, 4);
  std::memcpy(&last_final_norm, bytes.data() + bytes.size() - 512 * 8 * 4 - 4, 4);
  EXPECT_EQ(weights->token_embedding[0], first_embedding);
  EXPECT_EQ(weights->final_norm.back(), last_final_norm);
}

TEST(Llama2cCheckpointTest, ParameterCountFollowsShapes) {
  absl::StatusOr<LlamaWeights> weights = ReadLlama2cCheckpoint(kModel);
  ASSERT_TRUE(weights.ok()) << weights.status();
  const uint64_t dim = 64, hidden = 172, kv_dim = 32, vocab = 512, layers = 5;
  const uint64_t per_layer = 2 * dim + 2 * dim * dim + 2 * dim * kv_dim + 3 * dim * hidden;
  EXPECT_EQ(weights->ParameterCount(), vocab * dim + layers * per_layer + dim);
}

TEST(Llama2cCheckpointTest, MissingFileNamesPath) {
  absl::StatusOr<LlamaWeights> weights = ReadLlama2cCheckpoint("/nonexistent/model.bin");
  ASSERT_FALSE(weights.ok());
  EXPECT_EQ(weights.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(weights.status().message(), HasSubstr("/nonexistent/model.bin"));
}

TEST(Llama2cCheckpointTest, TruncatedFilesAreRejectedAtEveryLength) {
  std::string bytes = ReadAll(kModel);
  for (size_t length : {size_t{0}, size_t{3}, size_t{27}, size_t{28}, size_t{1000},
                        bytes.size() / 2, bytes.size() - 4, bytes.size() - 1}) {
    std::string path = WriteTemp("truncated.bin", bytes.substr(0, length));
    absl::StatusOr<LlamaWeights> weights = ReadLlama2cCheckpoint(path);
    ASSERT_FALSE(weights.ok()) << "length " << length;
    EXPECT_EQ(weights.status().code(), absl::StatusCode::kInvalidArgument) << "length " << length;
    EXPECT_THAT(weights.status().message(), HasSubstr(path)) << "length " << length;
  }
}

TEST(Llama2cCheckpointTest, TrailingBytesAreRejected) {
  std::string path = WriteTemp("longer.bin", ReadAll(kModel) + std::string(8, '\0'));
  absl::StatusOr<LlamaWeights> weights = ReadLlama2cCheckpoint(path);
  ASSERT_FALSE(weights.ok());
  EXPECT_THAT(weights.status().message(), HasSubstr("file size is"));
  EXPECT_THAT(weights.status().message(), HasSubstr("expected"));
}

TEST(Llama2cCheckpointTest, BadHeaderFieldIsNamed) {
  std::string bytes = ReadAll(kModel);
  struct Case {
    int field;
    int32_t value;
    const char* expected_text;
  };
  for (const Case& c : {Case{0, 0, "dim is 0"}, Case{1, -5, "hidden_dim is -5"},
                        Case{3, 7, "not a multiple of n_heads"},
                        Case{4, 3, "not a multiple of n_kv_heads"},
                        Case{5, INT32_MIN, "vocab_size is 0"},
                        Case{6, 0x7fffffff, "context_length is 2147483647"}}) {
    std::string corrupt = bytes;
    std::memcpy(corrupt.data() + 4 * c.field, &c.value, 4);
    std::string path = WriteTemp("bad_header.bin", corrupt);
    absl::StatusOr<LlamaWeights> weights = ReadLlama2cCheckpoint(path);
    ASSERT_FALSE(weights.ok()) << c.expected_text;
    EXPECT_THAT(weights.status().message(), HasSubstr(c.expected_text));
    EXPECT_THAT(weights.status().message(), HasSubstr(path));
  }
}

TEST(Llama2cCheckpointTest, NegativeVocabSizeReadsSeparateClassifier) {
  // Turn the shared checkpoint into one with a separate classifier: negate
  // vocab_size and append a classifier of twos.
  std::string bytes = ReadAll(kModel);
  int32_t negative_vocab = -512;
  std::memcpy(bytes.data() + 20, &negative_vocab, 4);
  std::vector<float> classifier(512 * 64, 2.0f);
  bytes.append(reinterpret_cast<const char*>(classifier.data()), classifier.size() * 4);
  std::string path = WriteTemp("unshared.bin", bytes);

  absl::StatusOr<LlamaWeights> weights = ReadLlama2cCheckpoint(path);
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_FALSE(weights->config.shared_classifier);
  EXPECT_EQ(weights->config.vocab_size, 512);
  ASSERT_EQ(weights->classifier.size(), 512u * 64u);
  EXPECT_EQ(weights->classifier[0], 2.0f);
}

TEST(Llama2cTokenizerTest, ReadsTok512) {
  absl::StatusOr<SentencePieceVocabulary> vocabulary = ReadLlama2cTokenizer(kTokenizer, 512);
  ASSERT_TRUE(vocabulary.ok()) << vocabulary.status();
  ASSERT_EQ(vocabulary->pieces.size(), 512u);
  EXPECT_EQ(vocabulary->pieces[0], "<unk>");
  EXPECT_EQ(vocabulary->pieces[1], "\n<s>\n");
  EXPECT_EQ(vocabulary->pieces[2], "\n</s>\n");
  EXPECT_EQ(vocabulary->pieces[3], "<0x00>");
  EXPECT_EQ(vocabulary->pieces[258], "<0xFF>");
}

TEST(Llama2cTokenizerTest, WrongVocabSizeIsRejected) {
  absl::StatusOr<SentencePieceVocabulary> fewer = ReadLlama2cTokenizer(kTokenizer, 500);
  ASSERT_FALSE(fewer.ok());
  EXPECT_THAT(fewer.status().message(), HasSubstr("bytes follow the last of 500 tokens"));

  absl::StatusOr<SentencePieceVocabulary> more = ReadLlama2cTokenizer(kTokenizer, 600);
  ASSERT_FALSE(more.ok());
  EXPECT_THAT(more.status().message(), HasSubstr("token 512"));
  EXPECT_THAT(more.status().message(), HasSubstr("truncated"));
}

TEST(Llama2cTokenizerTest, BadTokenLengthIsNamed) {
  std::string bytes = ReadAll(kTokenizer);
  // Token 0's length field follows max_token_length and token 0's score.
  int32_t huge = 1 << 30;
  std::memcpy(bytes.data() + 8, &huge, 4);
  std::string path = WriteTemp("bad_tokenizer.bin", bytes);
  absl::StatusOr<SentencePieceVocabulary> vocabulary = ReadLlama2cTokenizer(path, 512);
  ASSERT_FALSE(vocabulary.ok());
  EXPECT_THAT(vocabulary.status().message(), HasSubstr("token 0 has length 1073741824"));
}

}  // namespace
}  // namespace textgen
