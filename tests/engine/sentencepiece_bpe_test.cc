#include "engine/tokenizer/sentencepiece_bpe.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/format/llama2c_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/test_paths.h"

namespace textgen {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Ids in tok512.bin, the llama2.c tokenizer of stories260K. Byte pieces
// <0x00>..<0xFF> are ids 3..258.
constexpr int32_t kBos = 1;
constexpr int32_t kSpace = 410;  // " "
int32_t ByteToken(int byte) { return 3 + byte; }

struct ReferenceCase {
  std::string prompt;
  std::vector<int32_t> prompt_token_ids;
  std::vector<int32_t> generated_token_ids;
  bool text_exact = false;
  std::string continuation;
};

std::vector<ReferenceCase> ReadReferenceCases() {
  std::string path = textgen::testing::SharedPath("reference/stories260K-greedy.jsonl");
  std::ifstream file(path);
  EXPECT_TRUE(file.is_open()) << "cannot open " << path;
  std::vector<ReferenceCase> cases;
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty()) continue;
    nlohmann::json json = nlohmann::json::parse(line);
    ReferenceCase c;
    c.prompt = json.at("prompt").get<std::string>();
    c.prompt_token_ids = json.at("prompt_token_ids").get<std::vector<int32_t>>();
    c.generated_token_ids = json.at("generated_token_ids").get<std::vector<int32_t>>();
    c.text_exact = json.at("text_exact").get<bool>();
    c.continuation = json.at("continuation").get<std::string>();
    cases.push_back(std::move(c));
  }
  return cases;
}

class Tok512Test : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<SentencePieceVocabulary> vocabulary =
        ReadLlama2cTokenizer(textgen::testing::SharedPath("models/stories260K/tok512.bin"), 512);
    ASSERT_TRUE(vocabulary.ok()) << vocabulary.status();
    absl::StatusOr<SentencePieceBpe> tokenizer = SentencePieceBpe::Create(*std::move(vocabulary));
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_.emplace(*std::move(tokenizer));
  }

  // Concatenates TokenBytes over `tokens`, starting after `previous`.
  std::string Decode(int32_t previous, const std::vector<int32_t>& tokens) const {
    std::string text;
    for (int32_t token : tokens) {
      text += tokenizer_->TokenBytes(previous, token);
      previous = token;
    }
    return text;
  }

  std::optional<SentencePieceBpe> tokenizer_;
};

TEST_F(Tok512Test, HeaderValues) {
  EXPECT_EQ(tokenizer_->vocab_size(), 512);
  EXPECT_EQ(tokenizer_->bos_id(), 1);
  EXPECT_EQ(tokenizer_->eos_id(), 2);
}

TEST_F(Tok512Test, EncodeMatchesReferencePrompts) {
  std::vector<ReferenceCase> cases = ReadReferenceCases();
  ASSERT_FALSE(cases.empty());
  for (const ReferenceCase& c : cases) {
    SCOPED_TRACE("prompt: \"" + c.prompt + "\"");
    EXPECT_EQ(tokenizer_->Encode(c.prompt, true), c.prompt_token_ids);
  }
}

TEST_F(Tok512Test, TokenBytesMatchReferenceContinuations) {
  std::vector<ReferenceCase> cases = ReadReferenceCases();
  int exact_cases = 0;
  for (const ReferenceCase& c : cases) {
    if (!c.text_exact) continue;
    ++exact_cases;
    SCOPED_TRACE("prompt: \"" + c.prompt + "\"");
    ASSERT_FALSE(c.prompt_token_ids.empty());
    EXPECT_EQ(Decode(c.prompt_token_ids.back(), c.generated_token_ids), c.continuation);
  }
  EXPECT_GT(exact_cases, 0);
}

TEST_F(Tok512Test, EncodeEmptyText) {
  EXPECT_THAT(tokenizer_->Encode("", true), ElementsAre(kBos));
  EXPECT_THAT(tokenizer_->Encode("", false), IsEmpty());
}

TEST_F(Tok512Test, EncodeMergesDummySpace) {
  // " " + "a" is the piece " a" (261).
  EXPECT_THAT(tokenizer_->Encode("a", false), ElementsAre(261));
  EXPECT_THAT(tokenizer_->Encode("a", true), ElementsAre(kBos, 261));
}

TEST_F(Tok512Test, EncodeMergesByScore) {
  // " ","t","h","e": " t" (259, score -0) beats "he" (260, -1); then "he"
  // (-1) beats " th" (308, -50); then " t" + "he" is " the" (265).
  EXPECT_THAT(tokenizer_->Encode("the", false), ElementsAre(265));
}

TEST_F(Tok512Test, EncodeMultiByteCharacterWithPiece) {
  EXPECT_THAT(tokenizer_->Encode("\xC3\xA9", false), ElementsAre(kSpace, 485));  // "é"
  EXPECT_THAT(tokenizer_->Encode("\xE2\x80\x9C", false), ElementsAre(kSpace, 465));  // left quote
}

TEST_F(Tok512Test, EncodeChineseFallsBackToBytes) {
  // U+4E2D is E4 B8 AD and has no piece.
  EXPECT_THAT(tokenizer_->Encode("\xE4\xB8\xAD", true),
              ElementsAre(kBos, kSpace, ByteToken(0xE4), ByteToken(0xB8), ByteToken(0xAD)));
}

TEST_F(Tok512Test, EncodeEmojiFallsBackToBytes) {
  // U+1F600 is F0 9F 98 80.
  EXPECT_THAT(tokenizer_->Encode("\xF0\x9F\x98\x80", false),
              ElementsAre(kSpace, ByteToken(0xF0), ByteToken(0x9F), ByteToken(0x98),
                          ByteToken(0x80)));
}

TEST_F(Tok512Test, EncodeInvalidUtf8AsBytes) {
  // C3 starts a character that "(" does not continue.
  EXPECT_THAT(tokenizer_->Encode("\xC3(", false), ElementsAre(kSpace, ByteToken(0xC3), 489));
  EXPECT_THAT(tokenizer_->Encode("\x80", false), ElementsAre(kSpace, ByteToken(0x80)));
  EXPECT_THAT(tokenizer_->Encode("\xFF\xFE", false),
              ElementsAre(kSpace, ByteToken(0xFF), ByteToken(0xFE)));
  // Five stray continuation bytes form groups of four and one.
  EXPECT_THAT(tokenizer_->Encode("\x80\x80\x80\x80\x80", false),
              ElementsAre(kSpace, ByteToken(0x80), ByteToken(0x80), ByteToken(0x80),
                          ByteToken(0x80), ByteToken(0x80)));
}

TEST_F(Tok512Test, EncodeExtraContinuationByteBreaksPiece) {
  // C3 A9 A9 is one group, which is not the piece "é", so all three bytes
  // fall back.
  EXPECT_THAT(tokenizer_->Encode("\xC3\xA9\xA9", false),
              ElementsAre(kSpace, ByteToken(0xC3), ByteToken(0xA9), ByteToken(0xA9)));
}

TEST_F(Tok512Test, EncodeNulByte) {
  EXPECT_THAT(tokenizer_->Encode(std::string_view("a\0b", 3), false),
              ElementsAre(261, ByteToken(0x00), 430));
}

TEST_F(Tok512Test, TokenBytesDropsSpaceAfterBos) {
  EXPECT_EQ(tokenizer_->TokenBytes(kBos, 403), "Once");
  EXPECT_EQ(tokenizer_->TokenBytes(403, 403), " Once");
  EXPECT_EQ(tokenizer_->TokenBytes(-1, 403), " Once");
  EXPECT_EQ(tokenizer_->TokenBytes(kBos, kSpace), "");
  EXPECT_EQ(tokenizer_->TokenBytes(kBos, 412), "a");
}

TEST_F(Tok512Test, TokenBytesOfByteToken) {
  EXPECT_EQ(tokenizer_->TokenBytes(kBos, ByteToken(0xE4)), "\xE4");
  EXPECT_EQ(tokenizer_->TokenBytes(412, ByteToken(0x41)), "A");
  EXPECT_EQ(tokenizer_->TokenBytes(412, ByteToken(0x00)), std::string(1, '\0'));
  EXPECT_EQ(tokenizer_->TokenBytes(412, ByteToken(0xFF)), "\xFF");
}

TEST_F(Tok512Test, TokenBytesOfSpecialTokens) {
  EXPECT_EQ(tokenizer_->TokenBytes(412, 0), "<unk>");
  EXPECT_EQ(tokenizer_->TokenBytes(412, kBos), "\n<s>\n");
}

TEST_F(Tok512Test, TokenBytesOutOfRange) {
  EXPECT_EQ(tokenizer_->TokenBytes(kBos, 512), "");
  EXPECT_EQ(tokenizer_->TokenBytes(kBos, -1), "");
  EXPECT_EQ(tokenizer_->TokenBytes(kBos, std::numeric_limits<int32_t>::max()), "");
}

TEST_F(Tok512Test, DecodeRoundTrips) {
  // The dummy space always ends up at the start of the first token after
  // BOS, where TokenBytes drops it.
  const std::vector<std::string> texts = {
      "a",
      " leading space",
      "Once upon a time, there was a little girl named Lily.",
      "tab\tand\nnewline",
      "caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80!",
      "\xC3(\x80\xFF invalid",
      std::string("nul\0byte", 8),
  };
  for (const std::string& text : texts) {
    SCOPED_TRACE("text: \"" + text + "\"");
    std::vector<int32_t> tokens = tokenizer_->Encode(text, true);
    ASSERT_FALSE(tokens.empty());
    ASSERT_EQ(tokens.front(), kBos);
    EXPECT_EQ(Decode(kBos, std::vector<int32_t>(tokens.begin() + 1, tokens.end())), text);
  }
}

// Encodes as the plain definition states: split into characters, fall back
// to bytes, then rescan all adjacent pairs and merge the one with the
// highest score (the leftmost on ties) until none merges. O(n^2) on
// purpose, as a check of the faster implementation.
std::vector<int32_t> NaiveEncode(const SentencePieceVocabulary& vocabulary, std::string_view text) {
  std::unordered_map<std::string, int32_t> id_of_piece;
  for (size_t id = 0; id < vocabulary.pieces.size(); ++id) {
    id_of_piece.emplace(vocabulary.pieces[id], static_cast<int32_t>(id));  // keeps the first id
  }
  auto find = [&](const std::string& piece) -> int32_t {
    auto it = id_of_piece.find(piece);
    return it == id_of_piece.end() ? -1 : it->second;
  };
  auto append = [&](const std::string& bytes, std::vector<int32_t>& tokens) {
    int32_t id = find(bytes);
    if (id >= 0) {
      tokens.push_back(id);
      return;
    }
    for (unsigned char byte : bytes) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", byte);
      tokens.push_back(find(name));
    }
  };

  std::vector<int32_t> tokens;
  if (text.empty()) return tokens;
  append(" ", tokens);
  std::string group;
  for (size_t i = 0; i < text.size(); ++i) {
    group += text[i];
    bool next_continues = i + 1 < text.size() && (text[i + 1] & 0xC0) == 0x80;
    if (next_continues && group.size() < 4) continue;
    append(group, tokens);
    group.clear();
  }

  while (true) {
    int best_index = -1;
    int32_t best_id = -1;
    float best_score = 0;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
      int32_t id = find(vocabulary.pieces[tokens[i]] + vocabulary.pieces[tokens[i + 1]]);
      if (id < 0) continue;
      if (best_index < 0 || vocabulary.scores[id] > best_score) {
        best_index = static_cast<int>(i);
        best_id = id;
        best_score = vocabulary.scores[id];
      }
    }
    if (best_index < 0) break;
    tokens[best_index] = best_id;
    tokens.erase(tokens.begin() + best_index + 1);
  }
  return tokens;
}

TEST_F(Tok512Test, EncodeEqualsNaiveDefinition) {
  absl::StatusOr<SentencePieceVocabulary> vocabulary =
      ReadLlama2cTokenizer(textgen::testing::SharedPath("models/stories260K/tok512.bin"), 512);
  ASSERT_TRUE(vocabulary.ok()) << vocabulary.status();

  // Fragments that build many overlapping merges, plus characters with and
  // without pieces and invalid bytes.
  const std::vector<std::string> fragments = {
      "a", "e", "t", "h", "n", "d", " ", "  ", "the", "The", "Lily", "ittle", "happy", "ing",
      ".", ",", "\"", "\n", "\xC3\xA9", "\xE2\x80\x9C", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80",
      "\x80", "\xC3", "\xFF", "\xE2\x80"};
  std::mt19937 random(12345);
  std::uniform_int_distribution<size_t> pick(0, fragments.size() - 1);
  std::uniform_int_distribution<int> length(0, 40);
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    for (int n = length(random); n > 0; --n) text += fragments[pick(random)];
    SCOPED_TRACE("text: \"" + text + "\"");
    std::vector<int32_t> expected = NaiveEncode(*vocabulary, text);
    expected.insert(expected.begin(), kBos);
    ASSERT_EQ(tokenizer_->Encode(text, true), expected);
  }
}

TEST_F(Tok512Test, EncodeLongPromptEqualsNaiveDefinition) {
  absl::StatusOr<SentencePieceVocabulary> vocabulary =
      ReadLlama2cTokenizer(textgen::testing::SharedPath("models/stories260K/tok512.bin"), 512);
  ASSERT_TRUE(vocabulary.ok()) << vocabulary.status();
  std::string text;
  while (text.size() < 4000) {
    text += "Once upon a time, there was a little girl named Lily. She loved to play outside. ";
  }
  EXPECT_EQ(tokenizer_->Encode(text, false), NaiveEncode(*vocabulary, text));
}

// Builds a vocabulary in tok512's layout: <unk>, BOS, EOS, the 256 byte
// pieces, then `extra` pieces with their scores from id 259 on.
SentencePieceVocabulary MakeVocabulary(
    const std::vector<std::pair<std::string, float>>& extra) {
  SentencePieceVocabulary vocabulary;
  vocabulary.pieces = {"<unk>", "<s>", "</s>"};
  for (int byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", byte);
    vocabulary.pieces.push_back(name);
  }
  vocabulary.scores.assign(vocabulary.pieces.size(), 0.0f);
  for (const auto& [piece, score] : extra) {
    vocabulary.pieces.push_back(piece);
    vocabulary.scores.push_back(score);
  }
  return vocabulary;
}

SentencePieceBpe CreateOrDie(SentencePieceVocabulary vocabulary) {
  absl::StatusOr<SentencePieceBpe> tokenizer = SentencePieceBpe::Create(std::move(vocabulary));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return *std::move(tokenizer);
}

TEST(SentencePieceBpeTest, EqualScoresMergeLeftmostPair) {
  // Ids: " " 259, "a" 260, "b" 261, "ab" 262, "ba" 263.
  SentencePieceBpe tokenizer = CreateOrDie(
      MakeVocabulary({{" ", -9}, {"a", -9}, {"b", -9}, {"ab", -1}, {"ba", -1}}));
  // Pairs of " ","a","b","a": "ab" and "ba" tie, so "ab" merges; " ab" and
  // "aba" are no pieces.
  EXPECT_THAT(tokenizer.Encode("aba", false), ElementsAre(259, 262, 260));
}

TEST(SentencePieceBpeTest, HigherScoreBeatsLeftmostPair) {
  SentencePieceBpe tokenizer = CreateOrDie(
      MakeVocabulary({{" ", -9}, {"a", -9}, {"b", -9}, {"ab", -1}, {"ba", -0.5}}));
  EXPECT_THAT(tokenizer.Encode("aba", false), ElementsAre(259, 260, 263));
}

TEST(SentencePieceBpeTest, MergeResultMergesAgain) {
  // Ids: " " 259, "a" 260, "aa" 261, "aaaa" 262.
  SentencePieceBpe tokenizer =
      CreateOrDie(MakeVocabulary({{" ", -9}, {"a", -9}, {"aa", -1}, {"aaaa", -2}}));
  // "aa" merges left to right twice, then "aa" + "aa" forms "aaaa"; the
  // fifth "a" stays alone.
  EXPECT_THAT(tokenizer.Encode("aaaaa", false), ElementsAre(259, 262, 260));
}

TEST(SentencePieceBpeTest, CharacterGroupCutAtFourBytes) {
  // Ids: " " 259, the two-byte piece 80 81 is 260.
  SentencePieceBpe tokenizer = CreateOrDie(MakeVocabulary({{" ", -9}, {"\x80\x81", -9}}));
  // F0 80 80 80 is one group without a piece; the continuation bytes 80 81
  // after it start a new group, which is a piece.
  EXPECT_THAT(tokenizer.Encode("\xF0\x80\x80\x80\x80\x81", false),
              ElementsAre(259, ByteToken(0xF0), ByteToken(0x80), ByteToken(0x80),
                          ByteToken(0x80), 260));
}

TEST(SentencePieceBpeTest, MissingSpacePieceUsesByteToken) {
  SentencePieceBpe tokenizer = CreateOrDie(MakeVocabulary({{"a", -9}}));
  EXPECT_THAT(tokenizer.Encode("a", false), ElementsAre(ByteToken(0x20), 259));
}

TEST(SentencePieceBpeTest, DuplicatePieceEncodesToLowestId) {
  SentencePieceBpe tokenizer = CreateOrDie(MakeVocabulary({{" ", -9}, {"x", -9}, {"x", -1}}));
  EXPECT_THAT(tokenizer.Encode("x", false), ElementsAre(259, 260));
}

TEST(SentencePieceBpeTest, TokenBytesKeepsNearByteNames) {
  // Ids 259..262: pieces that look like byte pieces but are not of the
  // exact form <0xNN>.
  SentencePieceBpe tokenizer =
      CreateOrDie(MakeVocabulary({{"<0x4>", 0}, {"<0xG1>", 0}, {"<0x41", 0}, {"<0x414>", 0}}));
  EXPECT_EQ(tokenizer.TokenBytes(0, 259), "<0x4>");
  EXPECT_EQ(tokenizer.TokenBytes(0, 260), "<0xG1>");
  EXPECT_EQ(tokenizer.TokenBytes(0, 261), "<0x41");
  EXPECT_EQ(tokenizer.TokenBytes(0, 262), "<0x414>");
}

TEST(SentencePieceBpeTest, ManyTiesEqualNaiveDefinition) {
  // Every string of 2 to 4 letters over {a, b} that a random draw keeps, with
  // only three distinct scores, so most merge choices are ties.
  std::mt19937 random(7);
  std::bernoulli_distribution keep(0.6);
  std::uniform_int_distribution<int> score(1, 3);
  std::vector<std::pair<std::string, float>> extra = {{" ", -9}, {"a", -9}, {"b", -9}};
  for (int length = 2; length <= 4; ++length) {
    for (int bits = 0; bits < (1 << length); ++bits) {
      std::string piece;
      for (int k = 0; k < length; ++k) piece += (bits >> k) & 1 ? 'b' : 'a';
      if (keep(random)) extra.emplace_back(piece, -static_cast<float>(score(random)));
    }
  }
  extra.emplace_back(" a", -2);
  extra.emplace_back(" b", -1);
  SentencePieceVocabulary vocabulary = MakeVocabulary(extra);
  SentencePieceBpe tokenizer = CreateOrDie(vocabulary);

  std::uniform_int_distribution<int> letter(0, 2);
  std::uniform_int_distribution<int> length(1, 30);
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    for (int n = length(random); n > 0; --n) text += "ab "[letter(random)];
    SCOPED_TRACE("text: \"" + text + "\"");
    ASSERT_EQ(tokenizer.Encode(text, false), NaiveEncode(vocabulary, text));
  }
}

TEST(SentencePieceBpeTest, CreateRejectsScoreCountMismatch) {
  SentencePieceVocabulary vocabulary = MakeVocabulary({{" ", 0}});
  vocabulary.scores.pop_back();
  absl::StatusOr<SentencePieceBpe> tokenizer = SentencePieceBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("260 pieces but 259 scores"));
}

TEST(SentencePieceBpeTest, CreateRejectsBosOutOfRange) {
  SentencePieceVocabulary vocabulary = MakeVocabulary({});
  vocabulary.bos_id = 259;
  absl::StatusOr<SentencePieceBpe> tokenizer = SentencePieceBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("BOS id 259"));
}

TEST(SentencePieceBpeTest, CreateRejectsEosOutOfRange) {
  SentencePieceVocabulary vocabulary = MakeVocabulary({});
  vocabulary.eos_id = -1;
  absl::StatusOr<SentencePieceBpe> tokenizer = SentencePieceBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("EOS id -1"));
}

TEST(SentencePieceBpeTest, CreateRejectsEmptyVocabulary) {
  absl::StatusOr<SentencePieceBpe> tokenizer = SentencePieceBpe::Create(SentencePieceVocabulary{});
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("BOS id 1"));
}

TEST(SentencePieceBpeTest, CreateRejectsMissingBytePiece) {
  SentencePieceVocabulary vocabulary = MakeVocabulary({});
  vocabulary.pieces[ByteToken(0x41)] = "A";
  absl::StatusOr<SentencePieceBpe> tokenizer = SentencePieceBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("no byte piece <0x41>"));
}

TEST(SentencePieceBpeTest, CreateRejectsNanScore) {
  SentencePieceVocabulary vocabulary = MakeVocabulary({{"ab", 0}});
  vocabulary.scores[259] = std::nanf("");
  absl::StatusOr<SentencePieceBpe> tokenizer = SentencePieceBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("score of token 259 (piece \"ab\") is NaN"));
}

}  // namespace
}  // namespace textgen
