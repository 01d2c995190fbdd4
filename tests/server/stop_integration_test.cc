// Stop strings, stop token ids and min_new_tokens over real loopback gRPC.
// The expected text comes from llama2.c's greedy continuations of the
// stories260K model and from the embedded model's torch golden values: each
// case picks its stop from that text and cuts the text by hand.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "engine/model/model_loader.h"
#include "nlohmann/json.hpp"
#include "tests/server/generate_call.h"
#include "tests/server/loopback_server.h"
#include "tests/test_paths.h"
#include "textgen/v1/textgen.grpc.pb.h"

namespace textgen {
namespace {

using ::testing::HasSubstr;

// One greedy continuation of llama2.c's run.c, split at its token
// boundaries.
struct Reference {
  std::string prompt;
  std::vector<int32_t> prompt_token_ids;
  std::vector<int32_t> token_ids;   // the generated tokens
  std::string text;                 // the continuation run.c printed
  std::vector<size_t> token_ends;   // [tokens] byte offset in text where each token's text ends
};

// Returns a greedy reference case of stories260K with its token boundaries.
// The boundaries come from the token pieces that tok512.bin lists, joined as
// run.c prints them; the test checks that they rebuild the reference text.
Reference LoadReference(size_t index, const Tokenizer& tokenizer) {
  std::ifstream in(testing::SharedPath("reference/stories260K-greedy.jsonl"));
  std::string line;
  for (size_t i = 0; i <= index; ++i) std::getline(in, line);
  const nlohmann::json json = nlohmann::json::parse(line);

  Reference reference;
  reference.prompt = json["prompt"];
  reference.prompt_token_ids = json["prompt_token_ids"].get<std::vector<int32_t>>();
  reference.token_ids = json["generated_token_ids"].get<std::vector<int32_t>>();
  reference.text = json["continuation"];
  int32_t previous = json["prompt_token_ids"].back();
  std::string joined;
  for (int32_t id : reference.token_ids) {
    joined += tokenizer.TokenBytes(previous, id);
    reference.token_ends.push_back(joined.size());
    previous = id;
  }
  EXPECT_EQ(joined, reference.text) << "the token pieces do not rebuild the reference text";
  return reference;
}

// Returns the number of tokens whose text contains the first `size` bytes:
// the position, counted from 1, of the token that completes byte size - 1.
int32_t TokensCovering(const Reference& reference, size_t size) {
  const auto end =
      std::lower_bound(reference.token_ends.begin(), reference.token_ends.end(), size);
  return static_cast<int32_t>(end - reference.token_ends.begin()) + 1;
}

// Returns whether a token boundary lies strictly inside [start, end).
bool SpansTokenBoundary(const Reference& reference, size_t start, size_t end) {
  for (size_t boundary : reference.token_ends) {
    if (boundary > start && boundary < end) return true;
  }
  return false;
}

// Returns where `text` would be cut for `stops` by the rule of the proto: at
// the occurrence that ends first, the longest of those ending at the same
// byte, by brute force over every end position. nullopt when none occurs.
std::optional<size_t> FirstStopStart(const std::string& text,
                                     const std::vector<std::string>& stops) {
  for (size_t end = 1; end <= text.size(); ++end) {
    std::optional<size_t> start;
    for (const std::string& stop : stops) {
      if (stop.size() <= end && text.compare(end - stop.size(), stop.size(), stop) == 0) {
        start = std::min(start.value_or(end), end - stop.size());
      }
    }
    if (start.has_value()) return start;
  }
  return std::nullopt;
}

// Returns `text` without its longest end that is a proper prefix of a stop
// string: what a server may have sent of `text` before generation ends.
std::string WithoutPossibleStopStart(const std::string& text,
                                     const std::vector<std::string>& stops) {
  for (size_t start = 0; start < text.size(); ++start) {
    const std::string tail = text.substr(start);
    for (const std::string& stop : stops) {
      if (stop.size() > tail.size() && stop.compare(0, tail.size(), tail) == 0) {
        return text.substr(0, start);
      }
    }
  }
  return text;
}

class StopTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ModelFiles files;
    files.model_path = testing::SharedPath("models/stories260K/stories260K.bin");
    files.tokenizer_path = testing::SharedPath("models/stories260K/tok512.bin");
    server_ = new testing::LoopbackServer(files);
  }

  static void TearDownTestSuite() { delete server_; }

  void SetUp() override { ASSERT_TRUE(server_->ok()); }

  static const Tokenizer& tokenizer() { return *server_->model().tokenizer; }

  static v1::GenerateRequest GreedyRequest(const Reference& reference) {
    v1::GenerateRequest request;
    // An empty prompt must be sent as its token ids, BOS alone.
    if (reference.prompt.empty()) {
      for (int32_t id : reference.prompt_token_ids) request.add_prompt_token_ids(id);
    } else {
      request.set_prompt(reference.prompt);
    }
    request.mutable_stopping()->set_max_new_tokens(1000);
    return request;
  }

  static StreamResult Call(const v1::GenerateRequest& request) {
    return CallGenerate(*server_->NewStub(), request);
  }

  // Checks every chunk before the one that completes the stop: the text sent
  // so far must be the reference text of the tokens sent so far, minus
  // exactly the end that could still start a stop string.
  static void ExpectMinimalHoldBack(const StreamResult& result, const Reference& reference,
                                    const std::vector<std::string>& stops,
                                    int32_t matching_tokens) {
    std::string sent;
    size_t tokens = 0;
    for (const v1::TokenChunk& chunk : result.chunks) {
      sent += chunk.text();
      tokens += chunk.token_ids_size();
      if (static_cast<int32_t>(tokens) >= matching_tokens) break;
      if (tokens == 0) continue;
      const std::string generated = reference.text.substr(0, reference.token_ends[tokens - 1]);
      ASSERT_EQ(sent, WithoutPossibleStopStart(generated, stops)) << "after " << tokens << " tokens";
    }
  }

  static testing::LoopbackServer* server_;
};

testing::LoopbackServer* StopTest::server_ = nullptr;

// Returns the first stop string of `size` bytes that starts in the middle
// of token i >= `first_token` and ends inside a later token, and whose first
// occurrence in the text spans a token boundary too.
std::string StopAcrossTokens(const Reference& reference, size_t first_token, size_t size) {
  for (size_t i = first_token; i + 1 < reference.token_ends.size(); ++i) {
    const size_t token_start = reference.token_ends[i - 1];
    if (reference.token_ends[i] - token_start < 2) continue;
    const std::string stop = reference.text.substr(token_start + 1, size);
    const size_t first = reference.text.find(stop);
    if (SpansTokenBoundary(reference, first, first + stop.size())) return stop;
  }
  ADD_FAILURE() << "no stop string spans tokens";
  return "";
}

TEST_F(StopTest, StopAcrossTokensEndsRightBeforeIt) {
  const Reference reference = LoadReference(0, tokenizer());
  const std::string stop = StopAcrossTokens(reference, 20, 4);
  const size_t first = reference.text.find(stop);
  SCOPED_TRACE("stop \"" + absl::CEscape(stop) + "\"");

  v1::GenerateRequest request = GreedyRequest(reference);
  request.mutable_stopping()->add_stop(stop);
  const StreamResult result = Call(request);

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.Text(), reference.text.substr(0, first));
  const int32_t tokens = TokensCovering(reference, first + stop.size());
  EXPECT_EQ(result.TokenIds(), std::vector<int32_t>(reference.token_ids.begin(),
                                                    reference.token_ids.begin() + tokens));
  ASSERT_EQ(result.completions.size(), 1u);
  const v1::Completion& completion = result.completions[0];
  EXPECT_EQ(completion.finish_reason(), v1::FINISH_REASON_STOP_SEQUENCE);
  EXPECT_EQ(completion.matched_stop(), stop);
  EXPECT_FALSE(completion.has_matched_stop_token_id());
  EXPECT_EQ(completion.generated_tokens(), static_cast<uint32_t>(tokens));
  ExpectMinimalHoldBack(result, reference, {stop}, tokens);
}

TEST_F(StopTest, LongStopAcrossManyTokens) {
  const Reference reference = LoadReference(2, tokenizer());
  const std::string stop = StopAcrossTokens(reference, 30, 40);
  const size_t first = reference.text.find(stop);
  SCOPED_TRACE("stop \"" + absl::CEscape(stop) + "\"");

  v1::GenerateRequest request = GreedyRequest(reference);
  request.mutable_stopping()->add_stop(stop);
  const StreamResult result = Call(request);

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.Text(), reference.text.substr(0, first));
  ASSERT_EQ(result.completions.size(), 1u);
  EXPECT_EQ(result.completions[0].finish_reason(), v1::FINISH_REASON_STOP_SEQUENCE);
  ExpectMinimalHoldBack(result, reference, {stop}, TokensCovering(reference, first + stop.size()));
}

TEST_F(StopTest, IncludeStopInOutputEndsWithStop) {
  const Reference reference = LoadReference(0, tokenizer());
  const std::string stop = StopAcrossTokens(reference, 40, 5);
  const size_t first = reference.text.find(stop);
  SCOPED_TRACE("stop \"" + absl::CEscape(stop) + "\"");

  v1::GenerateRequest request = GreedyRequest(reference);
  request.mutable_stopping()->add_stop(stop);
  request.mutable_stopping()->set_include_stop_in_output(true);
  const StreamResult result = Call(request);

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.Text(), reference.text.substr(0, first + stop.size()));
  ASSERT_EQ(result.completions.size(), 1u);
  EXPECT_EQ(result.completions[0].finish_reason(), v1::FINISH_REASON_STOP_SEQUENCE);
  EXPECT_EQ(result.completions[0].matched_stop(), stop);
}

TEST_F(StopTest, EarliestOccurrenceWinsOverListOrder) {
  const Reference reference = LoadReference(1, tokenizer());
  // Substrings from late, middle and early in the text; each may also occur
  // earlier than where it was taken.
  const std::vector<std::string> stops = {reference.text.substr(reference.text.size() * 3 / 4, 7),
                                          reference.text.substr(reference.text.size() / 2, 6),
                                          reference.text.substr(reference.text.size() / 4, 5)};
  const std::optional<size_t> cut = FirstStopStart(reference.text, stops);
  ASSERT_TRUE(cut.has_value());
  std::string expected_stop;
  for (const std::string& stop : stops) {
    if (reference.text.compare(*cut, stop.size(), stop) == 0 && stop.size() > expected_stop.size()) {
      expected_stop = stop;
    }
  }
  ASSERT_NE(expected_stop, stops[0]) << "the case must not be won by the first stop listed";

  v1::GenerateRequest request = GreedyRequest(reference);
  for (const std::string& stop : stops) request.mutable_stopping()->add_stop(stop);
  const StreamResult result = Call(request);

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.Text(), reference.text.substr(0, *cut));
  ASSERT_EQ(result.completions.size(), 1u);
  EXPECT_EQ(result.completions[0].matched_stop(), expected_stop);
}

TEST_F(StopTest, UnmatchedStopReleasesHeldText) {
  const Reference reference = LoadReference(0, tokenizer());
  // Each stop starts like text that occurs (the second at the very end of
  // the text, so it is held until EOS) but goes on with bytes that never do.
  const std::vector<std::string> stops = {reference.text.substr(10, 6) + "\x01",
                                          reference.text.substr(reference.text.size() - 3) + "\x01"};

  v1::GenerateRequest request = GreedyRequest(reference);
  for (const std::string& stop : stops) request.mutable_stopping()->add_stop(stop);
  const StreamResult result = Call(request);

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.Text(), reference.text);
  EXPECT_EQ(result.TokenIds(), reference.token_ids);
  ASSERT_EQ(result.completions.size(), 1u);
  EXPECT_EQ(result.completions[0].finish_reason(), v1::FINISH_REASON_EOS);
  EXPECT_EQ(result.completions[0].matched_stop(), "");
  ASSERT_GE(result.chunks.size(), 2u);
  // The last three bytes were held back until the end of generation.
  std::string before_last;
  for (size_t i = 0; i + 1 < result.chunks.size(); ++i) before_last += result.chunks[i].text();
  EXPECT_LE(before_last.size(), reference.text.size() - 3);
}

TEST_F(StopTest, LengthLimitReleasesHeldText) {
  const Reference reference = LoadReference(0, tokenizer());
  const int32_t limit = 30;
  const std::string generated = reference.text.substr(0, reference.token_ends[limit - 1]);
  const std::string stop = generated.substr(generated.size() - 2) + "\x01";

  v1::GenerateRequest request = GreedyRequest(reference);
  request.mutable_stopping()->set_max_new_tokens(limit);
  request.mutable_stopping()->add_stop(stop);
  const StreamResult result = Call(request);

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.Text(), generated);
  ASSERT_EQ(result.completions.size(), 1u);
  EXPECT_EQ(result.completions[0].finish_reason(), v1::FINISH_REASON_LENGTH);
}

// Returns the first index i >= `from` whose id does not occur before it, so
// that a stop on that id ends generation exactly there.
size_t FirstNewTokenIndex(const std::vector<int32_t>& ids, size_t from) {
  for (size_t i = from; i < ids.size(); ++i) {
    if (std::find(ids.begin(), ids.begin() + i, ids[i]) == ids.begin() + i) return i;
  }
  ADD_FAILURE() << "no new token id after index " << from;
  return ids.size() - 1;
}

TEST_F(StopTest, StopTokenIdEndsRightBeforeIt) {
  const Reference reference = LoadReference(0, tokenizer());
  const size_t index = FirstNewTokenIndex(reference.token_ids, 15);
  const int32_t stop_id = reference.token_ids[index];

  v1::GenerateRequest request = GreedyRequest(reference);
  request.mutable_stopping()->add_stop_token_ids(stop_id);
  const StreamResult result = Call(request);

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.TokenIds(), std::vector<int32_t>(reference.token_ids.begin(),
                                                    reference.token_ids.begin() + index));
  EXPECT_EQ(result.Text(), reference.text.substr(0, reference.token_ends[index - 1]));
  ASSERT_EQ(result.completions.size(), 1u);
  const v1::Completion& completion = result.completions[0];
  EXPECT_EQ(completion.finish_reason(), v1::FINISH_REASON_STOP_SEQUENCE);
  ASSERT_TRUE(completion.has_matched_stop_token_id());
  EXPECT_EQ(completion.matched_stop_token_id(), stop_id);
  EXPECT_EQ(completion.matched_stop(), "");
  EXPECT_EQ(completion.generated_tokens(), index);
}

TEST_F(StopTest, MinNewTokensSkipsEarlierStopTokenId) {
  const Reference reference = LoadReference(0, tokenizer());
  // The id of token `first` occurs again later; min_new_tokens just past
  // `first` ignores the first occurrence.
  size_t first = 0;
  size_t next = 0;
  for (first = 10; first < reference.token_ids.size(); ++first) {
    const auto later = std::find(reference.token_ids.begin() + first + 1, reference.token_ids.end(),
                                 reference.token_ids[first]);
    if (later != reference.token_ids.end()) {
      next = static_cast<size_t>(later - reference.token_ids.begin());
      break;
    }
  }
  ASSERT_GT(next, first);
  const int32_t stop_id = reference.token_ids[first];

  v1::GenerateRequest request = GreedyRequest(reference);
  request.mutable_stopping()->add_stop_token_ids(stop_id);
  request.mutable_stopping()->set_min_new_tokens(first + 1);
  const StreamResult result = Call(request);

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.TokenIds(), std::vector<int32_t>(reference.token_ids.begin(),
                                                    reference.token_ids.begin() + next));
  ASSERT_EQ(result.completions.size(), 1u);
  EXPECT_EQ(result.completions[0].finish_reason(), v1::FINISH_REASON_STOP_SEQUENCE);
  EXPECT_EQ(result.completions[0].matched_stop_token_id(), stop_id);
}

TEST_F(StopTest, MinNewTokensSkipsEarlierStopString) {
  const Reference reference = LoadReference(0, tokenizer());
  const std::string stop = "Lily";
  const size_t first = reference.text.find(stop);
  ASSERT_NE(first, std::string::npos);
  // Ignore every occurrence completed by a token before min_new_tokens.
  const int32_t min_new_tokens = TokensCovering(reference, first + stop.size()) + 1;
  size_t expected = reference.text.find(stop, first + 1);
  while (expected != std::string::npos &&
         TokensCovering(reference, expected + stop.size()) < min_new_tokens) {
    expected = reference.text.find(stop, expected + 1);
  }
  ASSERT_NE(expected, std::string::npos);

  v1::GenerateRequest request = GreedyRequest(reference);
  request.mutable_stopping()->add_stop(stop);
  request.mutable_stopping()->set_min_new_tokens(min_new_tokens);
  const StreamResult result = Call(request);

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.Text(), reference.text.substr(0, expected));
  ASSERT_EQ(result.completions.size(), 1u);
  EXPECT_EQ(result.completions[0].matched_stop(), stop);
  EXPECT_EQ(result.completions[0].generated_tokens(),
            static_cast<uint32_t>(TokensCovering(reference, expected + stop.size())));
}

struct InvalidCase {
  const char* name;
  std::function<void(v1::StoppingCriteria&)> mutate;
  const char* message;  // a part of the error message
};

TEST_F(StopTest, InvalidStoppingNamesTheField) {
  const std::vector<InvalidCase> cases = {
      {"17 stop strings",
       [](auto& s) {
         for (int i = 0; i < 17; ++i) s.add_stop(std::string("x"));
       },
       "stopping.stop has 17 strings"},
      {"empty stop string",
       [](auto& s) {
         s.add_stop(std::string("ok"));
         s.add_stop(std::string());
       },
       "stopping.stop[1] is 0 bytes"},
      {"257-byte stop string", [](auto& s) { s.add_stop(std::string(257, 'a')); },
       "stopping.stop[0] is 257 bytes"},
      {"stop token id at vocab size", [](auto& s) { s.add_stop_token_ids(512); },
       "stopping.stop_token_ids[0] is 512"},
      {"negative stop token id",
       [](auto& s) {
         s.add_stop_token_ids(5);
         s.add_stop_token_ids(-1);
       },
       "stopping.stop_token_ids[1] is -1"},
      {"17 stop token ids",
       [](auto& s) {
         for (int i = 0; i < 17; ++i) s.add_stop_token_ids(i);
       },
       "stopping.stop_token_ids has 17 ids"},
      {"min above max",
       [](auto& s) {
         s.set_max_new_tokens(10);
         s.set_min_new_tokens(11);
       },
       "stopping.min_new_tokens is 11, expected at most 10"},
      {"min above server default",
       [](auto& s) { s.set_min_new_tokens(257); },
       "stopping.min_new_tokens is 257, expected at most 256"},
  };
  for (const InvalidCase& c : cases) {
    SCOPED_TRACE(c.name);
    v1::GenerateRequest request;
    request.set_prompt("Once upon a time");
    c.mutate(*request.mutable_stopping());
    const StreamResult result = Call(request);
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(result.status.error_message(), HasSubstr(c.message));
    EXPECT_TRUE(result.chunks.empty());
  }
}

TEST_F(StopTest, LimitsThemselvesAreAccepted) {
  v1::GenerateRequest request;
  request.set_prompt("Once upon a time");
  v1::StoppingCriteria& stopping = *request.mutable_stopping();
  for (int i = 0; i < 15; ++i) stopping.add_stop(std::string(1 + i, '#'));
  stopping.add_stop(std::string(256, '#'));
  for (int i = 0; i < 16; ++i) stopping.add_stop_token_ids(511 - i);
  stopping.set_max_new_tokens(5);
  stopping.set_min_new_tokens(5);
  const StreamResult result = Call(request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.completions.size(), 1u);
  EXPECT_EQ(result.completions[0].generated_tokens(), 5u);
}

// The embedded model, whose golden greedy continuations end with EOS.
class EmbeddedMinNewTokensTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::ifstream in(testing::SourceDir() + "/tests/data/embedded-golden.json");
    golden_ = new nlohmann::json(nlohmann::json::parse(in));
    ModelFiles files;
    files.model_path = testing::SourceDir() + "/" + (*golden_)["model"].get<std::string>();
    server_ = new testing::LoopbackServer(files);
  }

  static void TearDownTestSuite() {
    delete server_;
    delete golden_;
  }

  void SetUp() override { ASSERT_TRUE(server_->ok()); }

  static nlohmann::json* golden_;
  static testing::LoopbackServer* server_;
};

nlohmann::json* EmbeddedMinNewTokensTest::golden_ = nullptr;
testing::LoopbackServer* EmbeddedMinNewTokensTest::server_ = nullptr;

TEST_F(EmbeddedMinNewTokensTest, GenerationGoesPastEos) {
  const int32_t eos_id = (*golden_)["eos_id"];
  for (const nlohmann::json& c : (*golden_)["greedy"]) {
    if (c["finish"] != "eos") continue;
    SCOPED_TRACE(c["prompt"].get<std::string>());
    const std::vector<int32_t> golden = c["generated_token_ids"];
    const uint32_t min_new_tokens = static_cast<uint32_t>(golden.size()) + 5;

    v1::GenerateRequest request;
    request.set_prompt(c["prompt"].get<std::string>());
    request.mutable_stopping()->set_min_new_tokens(min_new_tokens);
    request.mutable_stopping()->set_max_new_tokens(min_new_tokens);
    const StreamResult result = CallGenerate(*server_->NewStub(), request);

    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    const std::vector<int32_t> ids = result.TokenIds();
    ASSERT_EQ(ids.size(), min_new_tokens);
    // The golden tokens, then the EOS the model chose, kept as a token.
    EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + golden.size()), golden);
    EXPECT_EQ(ids[golden.size()], eos_id);
    ASSERT_EQ(result.completions.size(), 1u);
    EXPECT_EQ(result.completions[0].finish_reason(), v1::FINISH_REASON_LENGTH);
    EXPECT_EQ(result.completions[0].generated_tokens(), min_new_tokens);
  }
}

TEST_F(EmbeddedMinNewTokensTest, EosAfterMinNewTokensStillEnds) {
  const nlohmann::json& c = (*golden_)["greedy"][0];
  ASSERT_EQ(c["finish"], "eos");
  const std::vector<int32_t> golden = c["generated_token_ids"];

  v1::GenerateRequest request;
  request.set_prompt(c["prompt"].get<std::string>());
  request.mutable_stopping()->set_min_new_tokens(static_cast<uint32_t>(golden.size()));
  request.mutable_stopping()->set_max_new_tokens(static_cast<uint32_t>(golden.size()) + 20);
  const StreamResult result = CallGenerate(*server_->NewStub(), request);

  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.TokenIds(), golden);
  EXPECT_EQ(result.Text(), c["generated_text"].get<std::string>());
  ASSERT_EQ(result.completions.size(), 1u);
  EXPECT_EQ(result.completions[0].finish_reason(), v1::FINISH_REASON_EOS);
}

}  // namespace
}  // namespace textgen
