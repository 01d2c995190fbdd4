// The embedded default model (a GPT-2-architecture GGUF that tools/train
// trains) against golden values that torch computed at training time:
// last-position logits within 1e-4 and greedy continuations exactly.

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "engine/generate/generator.h"
#include "engine/model/model_loader.h"
#include "nlohmann/json.hpp"
#include "tests/test_paths.h"

namespace textgen {
namespace {

class EmbeddedModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::ifstream in(testing::SourceDir() + "/tests/data/embedded-golden.json");
    ASSERT_TRUE(in.good()) << "missing tests/data/embedded-golden.json";
    golden_ = new nlohmann::json(nlohmann::json::parse(in));

    ModelFiles files;
    files.model_path = testing::SourceDir() + "/" + (*golden_)["model"].get<std::string>();
    absl::StatusOr<LoadedModel> loaded = LoadModel(files);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    loaded_ = new LoadedModel(*std::move(loaded));
  }

  static void TearDownTestSuite() {
    delete loaded_;
    delete golden_;
  }

  static nlohmann::json* golden_;
  static LoadedModel* loaded_;
};

nlohmann::json* EmbeddedModelTest::golden_ = nullptr;
LoadedModel* EmbeddedModelTest::loaded_ = nullptr;

TEST_F(EmbeddedModelTest, DescribesGpt2) {
  const ModelDescription& d = loaded_->model->description();
  EXPECT_EQ(d.architecture, "gpt2");
  EXPECT_EQ(d.name, "textgen-tiny-stories");
  EXPECT_EQ(loaded_->tokenizer->bos_id(), (*golden_)["bos_id"].get<int32_t>());
  EXPECT_EQ(loaded_->tokenizer->eos_id(), (*golden_)["eos_id"].get<int32_t>());
  EXPECT_TRUE(loaded_->add_bos);
}

TEST_F(EmbeddedModelTest, LastLogitsMatchTorch) {
  Model& model = *loaded_->model;
  const int64_t vocab = model.description().vocab_size;
  for (const auto& c : (*golden_)["logits"]) {
    SCOPED_TRACE(c["prompt"].get<std::string>());
    std::vector<int32_t> tokens = c["token_ids"];
    EXPECT_EQ(loaded_->tokenizer->Encode(c["prompt"].get<std::string>(), loaded_->add_bos), tokens);

    std::vector<float> expected = c["last_logits"];
    ASSERT_EQ(static_cast<int64_t>(expected.size()), vocab);
    std::unique_ptr<KvCache> cache = model.NewKvCache(static_cast<int64_t>(tokens.size()));
    std::vector<float> logits(vocab);
    model.Forward({SequenceStep{tokens, 0, cache.get(), logits.data()}});

    for (int64_t i = 0; i < vocab; ++i) {
      ASSERT_NEAR(logits[i], expected[i], 1e-4) << "logit " << i;
    }
  }
}

TEST_F(EmbeddedModelTest, TokenByTokenMatchesWholePrompt) {
  Model& model = *loaded_->model;
  const int64_t vocab = model.description().vocab_size;
  const auto& c = (*golden_)["logits"][0];
  std::vector<int32_t> tokens = c["token_ids"];
  std::vector<float> expected = c["last_logits"];

  std::unique_ptr<KvCache> cache = model.NewKvCache(static_cast<int64_t>(tokens.size()));
  std::vector<float> logits(vocab);
  for (size_t t = 0; t < tokens.size(); ++t) {
    const int32_t token[1] = {tokens[t]};
    model.Forward({SequenceStep{token, static_cast<int64_t>(t), cache.get(), logits.data()}});
  }
  for (int64_t i = 0; i < vocab; ++i) ASSERT_NEAR(logits[i], expected[i], 1e-4) << "logit " << i;
}

TEST_F(EmbeddedModelTest, GreedyContinuationsMatchTorch) {
  Generator generator(*loaded_->model, *loaded_->tokenizer, loaded_->end_of_sequence_ids);
  int ended_by_eos = 0;
  for (const auto& c : (*golden_)["greedy"]) {
    SCOPED_TRACE(c["prompt"].get<std::string>());
    GenerationRequest request;
    request.prompt = loaded_->tokenizer->Encode(c["prompt"].get<std::string>(), loaded_->add_bos);
    ASSERT_EQ(request.prompt, c["prompt_token_ids"].get<std::vector<int32_t>>());
    request.max_new_tokens = c["max_new_tokens"];

    std::vector<int32_t> tokens;
    GenerationCallbacks callbacks;
    callbacks.on_output = [&](const GenerationOutput& output) {
      if (output.token_id >= 0) tokens.push_back(output.token_id);
      return true;
    };
    callbacks.is_cancelled = [] { return false; };
    GenerationResult result = generator.Generate(request, callbacks);

    EXPECT_EQ(tokens, c["generated_token_ids"].get<std::vector<int32_t>>());
    const bool eos = c["finish"] == "eos";
    EXPECT_EQ(result.finish_reason, eos ? FinishReason::kEndOfSequence : FinishReason::kLength);
    ended_by_eos += eos;
  }
  // The model learned to end its stories.
  EXPECT_GT(ended_by_eos, 0);
}

}  // namespace
}  // namespace textgen
