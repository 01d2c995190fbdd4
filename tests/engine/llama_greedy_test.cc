// Greedy generation of stories260K against expected outputs of independent
// implementations: llama2.c's run.c (the shared reference file) and a numpy
// implementation in tools/reference (more prompts, generated at build time).

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "engine/generate/generator.h"
#include "engine/model/model_loader.h"
#include "nlohmann/json.hpp"
#include "tests/test_paths.h"

namespace textgen {
namespace {

struct GreedyCase {
  std::string source;  // file and line, for failure messages
  nlohmann::json expected;
};

std::vector<GreedyCase> ReadCases(const std::string& path) {
  std::vector<GreedyCase> cases;
  std::ifstream in(path);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    cases.push_back({path + ":" + std::to_string(number), nlohmann::json::parse(line)});
  }
  return cases;
}

ModelFiles Llama2cFiles() {
  ModelFiles files;
  files.model_path = testing::SharedPath("models/stories260K/stories260K.bin");
  files.tokenizer_path = testing::SharedPath("models/stories260K/tok512.bin");
  return files;
}

class LlamaGreedyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<LoadedModel> loaded = LoadModel(Llama2cFiles());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    loaded_ = new LoadedModel(*std::move(loaded));
  }

  static void TearDownTestSuite() {
    delete loaded_;
    loaded_ = nullptr;
  }

  void CheckCases(const std::vector<GreedyCase>& cases) { CheckCases(*loaded_, cases); }

  // Runs each case greedily to its natural end and compares tokens, finish
  // reason and, where the reference text is exact, the text.
  static void CheckCases(LoadedModel& model, const std::vector<GreedyCase>& cases) {
    ASSERT_FALSE(cases.empty());
    Generator generator(*model.model, *model.tokenizer, model.end_of_sequence_ids);
    for (const GreedyCase& c : cases) {
      SCOPED_TRACE(c.source);
      const std::string prompt = c.expected["prompt"];
      std::vector<int32_t> expected_prompt = c.expected["prompt_token_ids"];
      std::vector<int32_t> expected_tokens = c.expected["generated_token_ids"];
      const std::string expected_finish = c.expected["finish"];

      GenerationRequest request;
      request.prompt = model.tokenizer->Encode(prompt, /*add_bos=*/true);
      ASSERT_EQ(request.prompt, expected_prompt);
      request.max_new_tokens = 1 << 20;  // only EOS or the context ends it

      std::vector<int32_t> tokens;
      std::string text;
      GenerationCallbacks callbacks;
      callbacks.on_output = [&](const GenerationOutput& output) {
        if (output.token_id >= 0) tokens.push_back(output.token_id);
        text += output.text;
        return true;
      };
      callbacks.is_cancelled = [] { return false; };
      GenerationResult result = generator.Generate(request, callbacks);

      ASSERT_EQ(tokens, expected_tokens);
      EXPECT_EQ(result.generated_tokens, static_cast<int32_t>(expected_tokens.size()));
      EXPECT_EQ(result.prompt_tokens, static_cast<int32_t>(expected_prompt.size()));
      EXPECT_EQ(result.finish_reason, expected_finish == "eos" ? FinishReason::kEndOfSequence
                                                               : FinishReason::kLength);
      if (c.expected.value("text_exact", false)) {
        EXPECT_EQ(text, c.expected["continuation"].get<std::string>());
      }
    }
  }

  static LoadedModel* loaded_;
};

LoadedModel* LlamaGreedyTest::loaded_ = nullptr;

TEST_F(LlamaGreedyTest, MatchesLlama2cRunC) {
  CheckCases(ReadCases(testing::SharedPath("reference/stories260K-greedy.jsonl")));
}

TEST_F(LlamaGreedyTest, MatchesNumpyReferenceOnHardPrompts) {
  CheckCases(ReadCases(testing::BuildTestDataDir() + "/greedy-prompts.jsonl"));
}

// stories260K.gguf, written by llama.cpp's converter, states a context of
// 128 positions (the converter's default); the model was trained on 512.
TEST_F(LlamaGreedyTest, GgufFromLlamaCppMatchesRunCAtFullContext) {
  ModelFiles files;
  files.model_path = testing::SharedPath("models/stories260K/stories260K.gguf");
  files.context_length = 512;
  absl::StatusOr<LoadedModel> gguf = LoadModel(files);
  ASSERT_TRUE(gguf.ok()) << gguf.status();
  EXPECT_EQ(gguf->model->description().context_length, 512);
  CheckCases(*gguf, ReadCases(testing::SharedPath("reference/stories260K-greedy.jsonl")));
  CheckCases(*gguf, ReadCases(testing::BuildTestDataDir() + "/greedy-prompts.jsonl"));
}

TEST_F(LlamaGreedyTest, GgufStopsAtItsStatedContext) {
  ModelFiles files;
  files.model_path = testing::SharedPath("models/stories260K/stories260K.gguf");
  absl::StatusOr<LoadedModel> gguf = LoadModel(files);
  ASSERT_TRUE(gguf.ok()) << gguf.status();
  ASSERT_EQ(gguf->model->description().context_length, 128);

  // With 128 positions, a 5-token prompt samples 128 + 1 - 5 = 124 tokens
  // (the last one after position 127), the first 124 of run.c's story.
  GreedyCase reference = ReadCases(testing::SharedPath("reference/stories260K-greedy.jsonl")).at(0);
  std::vector<int32_t> expected = reference.expected["generated_token_ids"];
  ASSERT_GT(expected.size(), 124u);
  expected.resize(124);
  reference.expected["generated_token_ids"] = expected;
  reference.expected["finish"] = "length";
  reference.expected["text_exact"] = false;
  CheckCases(*gguf, {reference});
}

}  // namespace
}  // namespace textgen
