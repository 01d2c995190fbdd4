#include "engine/tokenizer/incremental_detokenizer.h"

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace textgen {
namespace {

using ::testing::ElementsAre;

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// A tokenizer whose token i decodes to `token_bytes[i]`, and which records
// the previous token of every TokenBytes call.
class FakeTokenizer : public Tokenizer {
 public:
  explicit FakeTokenizer(std::vector<std::string> token_bytes)
      : token_bytes_(std::move(token_bytes)) {}

  std::vector<int32_t> Encode(std::string_view, bool) const override { return {}; }

  std::string TokenBytes(int32_t previous_token, int32_t token) const override {
    previous_tokens_.push_back(previous_token);
    return token_bytes_.at(token);
  }

  int32_t vocab_size() const override { return static_cast<int32_t>(token_bytes_.size()); }
  int32_t bos_id() const override { return -1; }
  int32_t eos_id() const override { return -1; }

  const std::vector<int32_t>& previous_tokens() const { return previous_tokens_; }

 private:
  std::vector<std::string> token_bytes_;
  mutable std::vector<int32_t> previous_tokens_;
};

// Returns whether `text` is valid UTF-8, by decoding each code point from
// its bit pattern and rejecting overlong forms, surrogates and values above
// U+10FFFF.
bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char lead = static_cast<unsigned char>(text[i]);
    int length;
    uint32_t code_point;
    if (lead < 0x80) {
      length = 1;
      code_point = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (int k = 1; k < length; ++k) {
      unsigned char byte = static_cast<unsigned char>(text[i + k]);
      if ((byte & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (byte & 0x3F);
    }
    const uint32_t min_code_point[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < min_code_point[length]) return false;
    if (code_point >= 0xD800 && code_point <= 0xDFFF) return false;
    if (code_point > 0x10FFFF) return false;
    i += length;
  }
  return true;
}

std::string Replacements(int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += kReplacement;
  return text;
}

// Feeds tokens 0..n-1 in order and returns what each Add call emitted.
std::vector<std::string> AddAll(IncrementalDetokenizer& detokenizer, int token_count) {
  std::vector<std::string> outputs;
  for (int32_t token = 0; token < token_count; ++token) {
    outputs.push_back(detokenizer.Add(token));
  }
  return outputs;
}

// Decodes `bytes` as a single token and flushes.
std::string DecodeWhole(const std::string& bytes) {
  FakeTokenizer tokenizer({bytes});
  IncrementalDetokenizer detokenizer(tokenizer, -1);
  std::string text = detokenizer.Add(0);
  return text + detokenizer.Flush();
}

TEST(IsValidUtf8Test, CheckerItself) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("\xE4\xB8\xAD\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong "/"
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(IsValidUtf8("\xE4\xB8"));          // truncated
}

TEST(IncrementalDetokenizerTest, AsciiEmittedImmediately) {
  FakeTokenizer tokenizer({"Hello", ",", " world"});
  IncrementalDetokenizer detokenizer(tokenizer, -1);
  EXPECT_THAT(AddAll(detokenizer, 3), ElementsAre("Hello", ",", " world"));
  EXPECT_EQ(detokenizer.Flush(), "");
}

TEST(IncrementalDetokenizerTest, PassesPreviousToken) {
  FakeTokenizer tokenizer({"a", "b", "c"});
  IncrementalDetokenizer detokenizer(tokenizer, 7);
  AddAll(detokenizer, 3);
  EXPECT_THAT(tokenizer.previous_tokens(), ElementsAre(7, 0, 1));
}

TEST(IncrementalDetokenizerTest, TwoByteCharacterAcrossTokens) {
  // U+00E9 is C3 A9.
  FakeTokenizer tokenizer({"caf\xC3", "\xA9!"});
  IncrementalDetokenizer detokenizer(tokenizer, -1);
  EXPECT_THAT(AddAll(detokenizer, 2), ElementsAre("caf", "\xC3\xA9!"));
  EXPECT_EQ(detokenizer.Flush(), "");
}

TEST(IncrementalDetokenizerTest, ChineseOneBytePerToken) {
  // U+4E2D U+6587 is E4 B8 AD E6 96 87.
  FakeTokenizer tokenizer({"\xE4", "\xB8", "\xAD", "\xE6", "\x96", "\x87"});
  IncrementalDetokenizer detokenizer(tokenizer, -1);
  EXPECT_THAT(AddAll(detokenizer, 6), ElementsAre("", "", "\xE4\xB8\xAD", "", "", "\xE6\x96\x87"));
  EXPECT_EQ(detokenizer.Flush(), "");
}

TEST(IncrementalDetokenizerTest, EmojiOneBytePerToken) {
  // U+1F600 is F0 9F 98 80.
  FakeTokenizer tokenizer({"\xF0", "\x9F", "\x98", "\x80"});
  IncrementalDetokenizer detokenizer(tokenizer, -1);
  EXPECT_THAT(AddAll(detokenizer, 4), ElementsAre("", "", "", "\xF0\x9F\x98\x80"));
  EXPECT_EQ(detokenizer.Flush(), "");
}

TEST(IncrementalDetokenizerTest, EmojiSplitBetweenText) {
  // The first token completes "a" and starts the emoji; the second ends it
  // and starts U+4E2D, which the third completes.
  FakeTokenizer tokenizer({"a\xF0\x9F", "\x98\x80 \xE4", "\xB8\xAD."});
  IncrementalDetokenizer detokenizer(tokenizer, -1);
  EXPECT_THAT(AddAll(detokenizer, 3),
              ElementsAre("a", "\xF0\x9F\x98\x80 ", "\xE4\xB8\xAD."));
}

TEST(IncrementalDetokenizerTest, InvalidSequencesBecomeReplacements) {
  struct Case {
    std::string bytes;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"\xC3(", Replacements(1) + "("},              // C3 needs a continuation byte
      {"\x80", Replacements(1)},                     // lone continuation byte
      {"\xBF\x80", Replacements(2)},                 // each stray byte on its own
      {"\xC0\xAF", Replacements(2)},                 // C0 never starts a sequence
      {"\xC1\xBF", Replacements(2)},                 // nor does C1
      {"\xE0\x80\x80", Replacements(3)},             // overlong: E0 needs A0..BF next
      {"\xE0\x9F\xBF", Replacements(3)},             // overlong U+07FF
      {"\xED\xA0\x80", Replacements(3)},             // surrogate U+D800
      {"\xED\xBF\xBF", Replacements(3)},             // surrogate U+DFFF
      {"\xF0\x80\x80\x80", Replacements(4)},         // overlong: F0 needs 90..BF next
      {"\xF4\x90\x80\x80", Replacements(4)},         // U+110000
      {"\xF5\x80\x80\x80", Replacements(4)},         // F5 never starts a sequence
      {"\xFE\xFF", Replacements(2)},
      {"\xE2\x82" "A", Replacements(1) + "A"},       // one replacement for E2 82
      {"\xF0\x9F\x98x", Replacements(1) + "x"},      // one for F0 9F 98
      {"\xE4\xB8\xE4\xB8\xAD", Replacements(1) + "\xE4\xB8\xAD"},
      // Mixed: F1 80 80, E1 80 and C2 are maximal subparts cut short by the
      // next lead byte, and 80, 80 and BF are stray continuation bytes.
      {"a\xF1\x80\x80\xE1\x80\xC2" "b\x80" "c\x80\xBF" "d",
       absl::StrCat("a", Replacements(3), "b", Replacements(1), "c", Replacements(2), "d")},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.bytes));
    EXPECT_EQ(DecodeWhole(c.bytes), c.expected);
  }
}

TEST(IncrementalDetokenizerTest, BoundaryCharactersAreValid) {
  const std::vector<std::string> characters = {
      std::string(1, '\0'),  // U+0000
      "\x7F",                // U+007F
      "\xC2\x80",            // U+0080
      "\xDF\xBF",            // U+07FF
      "\xE0\xA0\x80",        // U+0800
      "\xED\x9F\xBF",        // U+D7FF, before the surrogates
      "\xEE\x80\x80",        // U+E000, after the surrogates
      "\xEF\xBF\xBF",        // U+FFFF
      "\xF0\x90\x80\x80",    // U+10000
      "\xF4\x8F\xBF\xBF",    // U+10FFFF
  };
  for (const std::string& character : characters) {
    SCOPED_TRACE(::testing::PrintToString(character));
    EXPECT_EQ(DecodeWhole(character), character);
  }
}

TEST(IncrementalDetokenizerTest, InvalidByteInLaterToken) {
  // E4 B8 waits for a third byte; "x" shows it never comes.
  FakeTokenizer tokenizer({"\xE4\xB8", "x"});
  IncrementalDetokenizer detokenizer(tokenizer, -1);
  EXPECT_THAT(AddAll(detokenizer, 2), ElementsAre("", Replacements(1) + "x"));
  EXPECT_EQ(detokenizer.Flush(), "");
}

TEST(IncrementalDetokenizerTest, EmptyTokenEmitsNothing) {
  FakeTokenizer tokenizer({"\xC3", "", "\xA9"});
  IncrementalDetokenizer detokenizer(tokenizer, -1);
  EXPECT_THAT(AddAll(detokenizer, 3), ElementsAre("", "", "\xC3\xA9"));
}

TEST(IncrementalDetokenizerTest, FlushReplacesHeldBytes) {
  FakeTokenizer tokenizer({"a\xF0\x9F\x98", "b"});
  IncrementalDetokenizer detokenizer(tokenizer, -1);
  EXPECT_EQ(detokenizer.Add(0), "a");
  EXPECT_EQ(detokenizer.Flush(), Replacements(1));
  // Flush cleared the held bytes, so they neither repeat nor join "b".
  EXPECT_EQ(detokenizer.Flush(), "");
  EXPECT_EQ(detokenizer.Add(1), "b");
  EXPECT_EQ(detokenizer.Flush(), "");
}

TEST(IncrementalDetokenizerTest, FlushWithNothingHeld) {
  FakeTokenizer tokenizer({"ok"});
  IncrementalDetokenizer detokenizer(tokenizer, -1);
  EXPECT_EQ(detokenizer.Flush(), "");
  EXPECT_EQ(detokenizer.Add(0), "ok");
  EXPECT_EQ(detokenizer.Flush(), "");
}

// Splits `bytes` at random points into tokens and returns the concatenation
// of every Add output and the final Flush. Fails the test if one output is
// not valid UTF-8 on its own.
std::string DecodeRandomSplit(const std::string& bytes, std::mt19937& random) {
  std::vector<std::string> token_bytes;
  std::uniform_int_distribution<size_t> piece_length(0, 5);
  for (size_t start = 0; start < bytes.size();) {
    size_t length = std::min(piece_length(random), bytes.size() - start);
    token_bytes.push_back(bytes.substr(start, length));
    start += length;
  }
  FakeTokenizer tokenizer(token_bytes);
  IncrementalDetokenizer detokenizer(tokenizer, -1);
  std::string text;
  for (size_t token = 0; token < token_bytes.size(); ++token) {
    std::string output = detokenizer.Add(static_cast<int32_t>(token));
    EXPECT_TRUE(IsValidUtf8(output)) << ::testing::PrintToString(output);
    text += output;
  }
  std::string rest = detokenizer.Flush();
  EXPECT_TRUE(IsValidUtf8(rest)) << ::testing::PrintToString(rest);
  return text + rest;
}

TEST(IncrementalDetokenizerTest, RandomSplitsOfValidTextRoundTrip) {
  const std::vector<std::string> characters = {
      "a", " ", "\n", "\xC3\xA9", "\xE4\xB8\xAD", "\xE2\x80\x9C", "\xF0\x9F\x98\x80",
      "\xF4\x8F\xBF\xBF", "\xED\x9F\xBF"};
  std::mt19937 random(2024);
  std::uniform_int_distribution<size_t> pick(0, characters.size() - 1);
  for (int round = 0; round < 500; ++round) {
    std::string text;
    for (int n = 0; n < 30; ++n) text += characters[pick(random)];
    SCOPED_TRACE(::testing::PrintToString(text));
    ASSERT_EQ(DecodeRandomSplit(text, random), text);
  }
}

TEST(IncrementalDetokenizerTest, RandomBytesGiveValidUtf8) {
  // Bytes biased toward UTF-8 lead and continuation bytes, so that partial
  // and broken sequences are common.
  const std::vector<unsigned char> alphabet = {'a',  0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                               0xC0, 0xC2, 0xDF, 0xE0, 0xE4, 0xED, 0xEF,
                                               0xF0, 0xF4, 0xF5, 0xFF};
  std::mt19937 random(99);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes;
    for (int n = 0; n < 24; ++n) bytes += static_cast<char>(alphabet[pick(random)]);
    SCOPED_TRACE(::testing::PrintToString(bytes));
    std::string split_text = DecodeRandomSplit(bytes, random);
    ASSERT_TRUE(IsValidUtf8(split_text));
    // Where the token boundaries fall must not change the text.
    ASSERT_EQ(split_text, DecodeWhole(bytes));
  }
}

}  // namespace
}  // namespace textgen
