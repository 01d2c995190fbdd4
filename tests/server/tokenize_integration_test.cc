// The Tokenize and Detokenize RPCs over real loopback gRPC: llama.cpp's
// GPT-2 tokenizer cases against a tiny random GPT-2 model with the real
// vocabulary, and run.c's tokenization of the stories260K prompts.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "engine/format/gguf_writer.h"
#include "engine/model/model_loader.h"
#include "nlohmann/json.hpp"
#include "tests/server/loopback_server.h"
#include "tests/test_paths.h"
#include "textgen/v1/textgen.grpc.pb.h"
#include "tools/convert/random_model.h"

namespace textgen {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The separator that follows every input in llama.cpp's tokenizer test files.
constexpr std::string_view kVocabTestSeparator = "\n__ggml_vocab_test__\n";

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.is_open()) << "cannot open " << path;
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// One input of ggml-vocab-gpt-2.gguf.inp and its ids from the .out file.
struct TokenizerCase {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<TokenizerCase> LoadGpt2Cases() {
  const std::string inputs = ReadFile(testing::SharedPath("models/gpt2/ggml-vocab-gpt-2.gguf.inp"));
  std::istringstream outputs(ReadFile(testing::SharedPath("models/gpt2/ggml-vocab-gpt-2.gguf.out")));

  std::vector<TokenizerCase> cases;
  size_t start = 0;
  while (start < inputs.size()) {
    const size_t end = inputs.find(kVocabTestSeparator, start);
    if (end == std::string::npos) break;
    TokenizerCase c;
    c.text = inputs.substr(start, end - start);
    std::string line;
    std::getline(outputs, line);
    std::istringstream numbers(line);
    for (int32_t id = 0; numbers >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
    start = end + kVocabTestSeparator.size();
  }
  return cases;
}

// Calls Tokenize, or returns its failed status in `status`.
v1::TokenizeResponse Tokenize(v1::TextGeneration::Stub& stub, const std::string& text,
                              bool add_special_tokens, grpc::Status* status = nullptr) {
  grpc::ClientContext context;
  v1::TokenizeRequest request;
  request.set_text(text);
  request.set_add_special_tokens(add_special_tokens);
  v1::TokenizeResponse response;
  const grpc::Status result = stub.Tokenize(&context, request, &response);
  if (status != nullptr) *status = result;
  else EXPECT_TRUE(result.ok()) << result.error_message();
  return response;
}

// Calls Detokenize, or returns its failed status in `status`.
std::string Detokenize(v1::TextGeneration::Stub& stub, const std::vector<int32_t>& ids,
                       grpc::Status* status = nullptr) {
  grpc::ClientContext context;
  v1::DetokenizeRequest request;
  for (int32_t id : ids) request.add_token_ids(id);
  v1::DetokenizeResponse response;
  const grpc::Status result = stub.Detokenize(&context, request, &response);
  if (status != nullptr) *status = result;
  else EXPECT_TRUE(result.ok()) << result.error_message();
  return response.text();
}

std::vector<int32_t> Ids(const v1::TokenizeResponse& response) {
  return std::vector<int32_t>(response.token_ids().begin(), response.token_ids().end());
}

// A server on a gpt2-tiny model with random weights and GPT-2's vocabulary,
// written to a temporary file.
class Gpt2TokenizeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_path_ = new std::string(::testing::TempDir() + "/tokenize_gpt2_tiny_" +
                                  std::to_string(getpid()) + ".gguf");
    RandomModelOptions options;
    options.shape = "gpt2-tiny";
    options.vocab_path = testing::SharedPath("models/gpt2/ggml-vocab-gpt-2.gguf");
    absl::StatusOr<GgufWriter> writer = BuildRandomModel(options);
    ASSERT_TRUE(writer.ok()) << writer.status();
    const absl::Status written = writer->WriteFile(*model_path_);
    ASSERT_TRUE(written.ok()) << written;

    ModelFiles files;
    files.model_path = *model_path_;
    server_ = new testing::LoopbackServer(files);
  }

  static void TearDownTestSuite() {
    delete server_;
    std::remove(model_path_->c_str());
    delete model_path_;
  }

  void SetUp() override { ASSERT_TRUE(server_ != nullptr && server_->ok()); }

  static std::string* model_path_;
  static testing::LoopbackServer* server_;
};

std::string* Gpt2TokenizeTest::model_path_ = nullptr;
testing::LoopbackServer* Gpt2TokenizeTest::server_ = nullptr;

TEST_F(Gpt2TokenizeTest, MatchesLlamaCppCases) {
  const std::vector<TokenizerCase> cases = LoadGpt2Cases();
  // 46 inputs, one of them empty, each followed by the separator.
  ASSERT_EQ(cases.size(), 46u);
  auto stub = server_->NewStub();
  for (size_t i = 0; i < cases.size(); ++i) {
    const TokenizerCase& c = cases[i];
    SCOPED_TRACE(::testing::Message() << "input " << i << " \"" << absl::CEscape(c.text) << "\"");

    const v1::TokenizeResponse response = Tokenize(*stub, c.text, /*add_special_tokens=*/false);
    EXPECT_EQ(Ids(response), c.ids);
    // Byte-level BPE: each piece is the token's bytes, and they join to the
    // input.
    ASSERT_EQ(response.pieces_size(), response.token_ids_size());
    std::string joined;
    for (const std::string& piece : response.pieces()) joined += piece;
    EXPECT_EQ(joined, c.text);

    EXPECT_EQ(Detokenize(*stub, c.ids), c.text);
  }
}

TEST_F(Gpt2TokenizeTest, SpecialTokensAddNothingForGpt2) {
  // GPT-2 models do not start prompts with BOS (llama.cpp's default for a
  // GGUF without tokenizer.ggml.add_bos_token), so neither does Tokenize.
  auto stub = server_->NewStub();
  EXPECT_THAT(Ids(Tokenize(*stub, "Hello world", true)), ElementsAre(15496, 995));
  EXPECT_THAT(Ids(Tokenize(*stub, "", true)), IsEmpty());
}

TEST_F(Gpt2TokenizeTest, PiecesMayEndInsideACharacter) {
  // llama.cpp's case " this is 🦙.cpp" has the ids 428 318 12520 99 247 13
  // 20322: the llama (U+1F999, bytes F0 9F A6 99) splits into " " with its
  // first two bytes, then one token for each of the other two.
  auto stub = server_->NewStub();
  const v1::TokenizeResponse response =
      Tokenize(*stub, " this is \xF0\x9F\xA6\x99.cpp", false);
  EXPECT_THAT(Ids(response), ElementsAre(428, 318, 12520, 99, 247, 13, 20322));
  EXPECT_THAT(response.pieces(),
              ElementsAre(" this", " is", " \xF0\x9F", "\xA6", "\x99", ".", "cpp"));
  // Alone, the third token's bytes are an incomplete character, which
  // Detokenize returns as one U+FFFD.
  EXPECT_EQ(Detokenize(*stub, {12520}), " \xEF\xBF\xBD");
  EXPECT_EQ(Detokenize(*stub, {12520, 99, 247}), " \xF0\x9F\xA6\x99");
}

TEST_F(Gpt2TokenizeTest, EndOfTextDecodesToNothing) {
  // <|endoftext|> (50256) is a control token: it marks structure, not text.
  auto stub = server_->NewStub();
  EXPECT_EQ(Detokenize(*stub, {15496, 50256, 995}), "Hello world");
}

TEST_F(Gpt2TokenizeTest, BadRequestsNameTheField) {
  auto stub = server_->NewStub();
  grpc::Status status;

  Detokenize(*stub, {15496, 50257}, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("token_ids[1] is 50257"));
  EXPECT_THAT(status.error_message(), HasSubstr("[0, 50257)"));

  Detokenize(*stub, {-3}, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("token_ids[0] is -3"));

  Detokenize(*stub, std::vector<int32_t>(65537, 995), &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("token_ids has 65537 ids"));

  Tokenize(*stub, std::string(256 * 1024 + 1, 'a'), false, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("text is 262145 bytes"));
}

TEST_F(Gpt2TokenizeTest, LimitsThemselvesAreAccepted) {
  auto stub = server_->NewStub();
  grpc::Status status;
  // 262144 bytes of "a" encode to BPE tokens of several letters each.
  const v1::TokenizeResponse response = Tokenize(*stub, std::string(256 * 1024, 'a'), false, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(response.token_ids_size(), 0);

  const std::string text = Detokenize(*stub, std::vector<int32_t>(65536, 64), &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // Token 64 is the byte "a" (GPT-2's byte tokens follow the byte alphabet,
  // where "!" is 0 and "a" is 64).
  EXPECT_EQ(text, std::string(65536, 'a'));
}

// The stories260K model, whose SentencePiece tokenizer adds BOS to prompts.
class StoriesTokenizeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ModelFiles files;
    files.model_path = testing::SharedPath("models/stories260K/stories260K.bin");
    files.tokenizer_path = testing::SharedPath("models/stories260K/tok512.bin");
    server_ = new testing::LoopbackServer(files);
  }

  static void TearDownTestSuite() { delete server_; }

  void SetUp() override { ASSERT_TRUE(server_->ok()); }

  static std::vector<nlohmann::json> ReferenceCases() {
    std::vector<nlohmann::json> cases;
    std::ifstream in(testing::SharedPath("reference/stories260K-greedy.jsonl"));
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) cases.push_back(nlohmann::json::parse(line));
    }
    return cases;
  }

  static testing::LoopbackServer* server_;
};

testing::LoopbackServer* StoriesTokenizeTest::server_ = nullptr;

TEST_F(StoriesTokenizeTest, MatchesRunCPromptTokens) {
  auto stub = server_->NewStub();
  for (const nlohmann::json& c : ReferenceCases()) {
    const std::string prompt = c["prompt"];
    SCOPED_TRACE(prompt);
    const std::vector<int32_t> expected = c["prompt_token_ids"];  // BOS first
    EXPECT_EQ(Ids(Tokenize(*stub, prompt, /*add_special_tokens=*/true)), expected);
    // Without BOS, an empty prompt has no tokens: run.c adds the dummy
    // prefix space only to non-empty text.
    EXPECT_EQ(Ids(Tokenize(*stub, prompt, /*add_special_tokens=*/false)),
              std::vector<int32_t>(expected.begin() + 1, expected.end()));
  }
}

TEST_F(StoriesTokenizeTest, PiecesKeepTheirSpaces) {
  // run.c tokenizes " Once upon a time" (with the dummy prefix space) as
  // " Once", " upon", " a", " time".
  auto stub = server_->NewStub();
  const v1::TokenizeResponse response = Tokenize(*stub, "Once upon a time", false);
  EXPECT_THAT(response.pieces(), ElementsAre(" Once", " upon", " a", " time"));
}

TEST_F(StoriesTokenizeTest, DetokenizeGivesReferenceText) {
  auto stub = server_->NewStub();
  for (const nlohmann::json& c : ReferenceCases()) {
    SCOPED_TRACE(c["prompt"].get<std::string>());
    // run.c printed the continuation after the last prompt token, which is
    // BOS only for the empty prompt; after BOS a piece drops its leading
    // space. tok512.bin's piece of BOS is "\n<s>\n".
    std::vector<int32_t> ids = c["generated_token_ids"];
    const std::vector<int32_t> prompt = c["prompt_token_ids"];
    std::string expected = c["continuation"];
    if (prompt.size() == 1) {
      ids.insert(ids.begin(), prompt[0]);
      expected = "\n<s>\n" + expected;
    }
    EXPECT_EQ(Detokenize(*stub, ids), expected);
  }
}

TEST_F(StoriesTokenizeTest, ByteTokenAloneBecomesReplacementCharacter) {
  // <0xE2> is id 3 + 0xE2 = 229, the lead byte of a 3-byte character; with
  // nothing after it, it becomes one U+FFFD.
  auto stub = server_->NewStub();
  EXPECT_EQ(Detokenize(*stub, {229}), "\xEF\xBF\xBD");
  EXPECT_EQ(Detokenize(*stub, {}), "");
  EXPECT_THAT(Ids(Tokenize(*stub, "", true)), ElementsAre(1));
}

}  // namespace
}  // namespace textgen
