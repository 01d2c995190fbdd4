#include "engine/tokenizer/byte_level_bpe.h"

#include <cstdint>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/test_paths.h"

namespace textgen {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr int32_t kEndOfText = 50256;  // <|endoftext|>, GPT-2's BOS and EOS

// The separator between inputs in llama.cpp's tokenizer test files. Every
// input, the last one included, is followed by it.
constexpr std::string_view kVocabTestSeparator = "\n__ggml_vocab_test__\n";

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.is_open()) << "cannot open " << path;
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// Returns the UTF-8 string of the character that GPT-2's bytes_to_unicode()
// assigns to `byte`: the byte itself for '!'..'~', 0xA1..0xAC and 0xAE..0xFF,
// and U+0100 onwards, in byte order, for the other 68 bytes.
std::string ByteAlphabetCharacter(int byte) {
  const auto self_mapped = [](int b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  int code_point = byte;
  if (!self_mapped(byte)) {
    code_point = 0x100;
    for (int b = 0; b < byte; ++b) {
      if (!self_mapped(b)) ++code_point;
    }
  }
  std::string text;
  if (code_point < 0x80) {
    text.push_back(static_cast<char>(code_point));
  } else {
    text.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    text.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
  return text;
}

// A vocabulary of the 256 byte tokens (id = byte), then "Ġt" (256), "Ġth"
// (257) and "<|endoftext|>" (258) as BOS and EOS.
ByteLevelBpeVocabulary SmallVocabulary() {
  ByteLevelBpeVocabulary vocabulary;
  for (int byte = 0; byte < 256; ++byte) vocabulary.tokens.push_back(ByteAlphabetCharacter(byte));
  vocabulary.tokens.push_back("Ġt");
  vocabulary.tokens.push_back("Ġth");
  vocabulary.tokens.push_back("<|endoftext|>");
  vocabulary.merges = {"Ġ t", "Ġt h"};
  vocabulary.bos_id = 258;
  vocabulary.eos_id = 258;
  return vocabulary;
}

std::string Decode(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  std::string text;
  int32_t previous = -1;
  for (int32_t id : ids) {
    text += tokenizer.TokenBytes(previous, id);
    previous = id;
  }
  return text;
}

std::vector<std::string> Split(std::string_view text) {
  std::vector<std::string> pieces;
  for (std::string_view piece : SplitGpt2PreTokens(text)) pieces.emplace_back(piece);
  return pieces;
}

// ---------------------------------------------------------------------------
// Pre-tokenization. The expected pieces follow from the GPT-2 pattern by hand.

TEST(ByteLevelPreTokenizerTest, EmptyTextHasNoPieces) { EXPECT_THAT(Split(""), IsEmpty()); }

TEST(ByteLevelPreTokenizerTest, SpaceJoinsFollowingWord) {
  EXPECT_THAT(Split("Hello world"), ElementsAre("Hello", " world"));
  EXPECT_THAT(Split("Hello, world!"), ElementsAre("Hello", ",", " world", "!"));
}

TEST(ByteLevelPreTokenizerTest, WhitespaceRunLeavesLastSpaceToWord) {
  EXPECT_THAT(Split("  Hello"), ElementsAre(" ", " Hello"));
  EXPECT_THAT(Split("a    b"), ElementsAre("a", "   ", " b"));
  EXPECT_THAT(Split("!!!  ??"), ElementsAre("!!!", " ", " ??"));
}

TEST(ByteLevelPreTokenizerTest, TrailingWhitespaceStaysTogether) {
  EXPECT_THAT(Split("Hello  "), ElementsAre("Hello", "  "));
  EXPECT_THAT(Split("a "), ElementsAre("a", " "));
  EXPECT_THAT(Split("a\n \n"), ElementsAre("a", "\n \n"));
}

TEST(ByteLevelPreTokenizerTest, NewlinesBeforeWordSplit) {
  // "\n\n" before "b": the run backtracks to "\n", and the lone "\n" left
  // before "b" matches the final \s+ alternative.
  EXPECT_THAT(Split("a\n\nb"), ElementsAre("a", "\n", "\n", "b"));
  EXPECT_THAT(Split("a\n\n\nb"), ElementsAre("a", "\n\n", "\n", "b"));
  EXPECT_THAT(Split("\n ="), ElementsAre("\n", " ="));
  EXPECT_THAT(Split("a \tb"), ElementsAre("a", " ", "\t", "b"));
  EXPECT_THAT(Split("a\tb"), ElementsAre("a", "\t", "b"));
}

TEST(ByteLevelPreTokenizerTest, LowercaseContractionsSplitOff) {
  EXPECT_THAT(Split("don't we'll I'm you're they've he'd it's"),
              ElementsAre("don", "'t", " we", "'ll", " I", "'m", " you", "'re", " they", "'ve",
                          " he", "'d", " it", "'s"));
  EXPECT_THAT(Split("'sup"), ElementsAre("'s", "up"));
}

TEST(ByteLevelPreTokenizerTest, OtherApostrophesArePunctuation) {
  EXPECT_THAT(Split("I'M"), ElementsAre("I", "'", "M"));
  EXPECT_THAT(Split("a'l"), ElementsAre("a", "'", "l"));
  EXPECT_THAT(Split("''s"), ElementsAre("''", "s"));
  EXPECT_THAT(Split(" 's"), ElementsAre(" '", "s"));
  EXPECT_THAT(Split("'"), ElementsAre("'"));
}

TEST(ByteLevelPreTokenizerTest, DigitsFormOneRun) {
  EXPECT_THAT(Split("abc123 4567"), ElementsAre("abc", "123", " 4567"));
  EXPECT_THAT(Split("1234567890"), ElementsAre("1234567890"));
  EXPECT_THAT(Split("3.14"), ElementsAre("3", ".", "14"));
  // ² and ½ are general category No, Ⅻ is Nl, ٣٤٥ are Arabic-Indic Nd.
  EXPECT_THAT(Split("x²½ Ⅻ ٣٤٥"), ElementsAre("x", "²½", " Ⅻ", " ٣٤٥"));
}

TEST(ByteLevelPreTokenizerTest, NonAsciiLettersAndMarks) {
  EXPECT_THAT(Split("Führer"), ElementsAre("Führer"));
  // The fullwidth comma U+FF0C is punctuation.
  EXPECT_THAT(Split("你好，世界"), ElementsAre("你好", "，", "世界"));
  // U+0301 COMBINING ACUTE ACCENT is a mark (Mn), not a letter.
  EXPECT_THAT(Split("e\u0301t"), ElementsAre("e", "\u0301", "t"));
  EXPECT_THAT(Split(" this is 🦙.cpp"), ElementsAre(" this", " is", " 🦙.", "cpp"));
}

TEST(ByteLevelPreTokenizerTest, UnicodeWhitespace) {
  EXPECT_THAT(Split("a\u3000b"), ElementsAre("a", "\u3000", "b"));
  EXPECT_THAT(Split("a\u00a0\u00a0b"), ElementsAre("a", "\u00a0", "\u00a0", "b"));
  // U+200B ZERO WIDTH SPACE is a format character (Cf), not White_Space.
  EXPECT_THAT(Split("a\u200bb"), ElementsAre("a", "\u200b", "b"));
  // U+001C is not White_Space (the regex module's \s), although Python's
  // str.isspace() is true for it. If it were whitespace, the space before it
  // would be a piece of its own.
  EXPECT_THAT(Split("a \x1c"
                    "b"),
              ElementsAre("a", " \x1c", "b"));
}

TEST(ByteLevelPreTokenizerTest, InvalidUtf8BytesArePunctuation) {
  EXPECT_THAT(Split("a\xff\xfe"
                    "b"),
              ElementsAre("a", "\xff\xfe", "b"));
  EXPECT_THAT(Split(" \x80"), ElementsAre(" \x80"));
  // A three-byte character cut after two bytes.
  EXPECT_THAT(Split("\xe4\xb8"
                    "a"),
              ElementsAre("\xe4\xb8", "a"));
  EXPECT_THAT(Split("a\xc3"), ElementsAre("a", "\xc3"));
  // Overlong 'A' (0xC1 0x81), a surrogate, and a value above U+10FFFF.
  EXPECT_THAT(Split("\xc1\x81x"), ElementsAre("\xc1\x81", "x"));
  EXPECT_THAT(Split("\xed\xa0\x80x"), ElementsAre("\xed\xa0\x80", "x"));
  EXPECT_THAT(Split("\xf4\x90\x80\x80x"), ElementsAre("\xf4\x90\x80\x80", "x"));
  EXPECT_THAT(Split("é\xff"), ElementsAre("é", "\xff"));
}

// ---------------------------------------------------------------------------
// The GPT-2 vocabulary (vocab.json and merges.txt, OpenAI's originals).

class ByteLevelBpeGpt2Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string vocab_path = textgen::testing::SharedPath("models/gpt2/vocab.json");
    const std::string merges_path = textgen::testing::SharedPath("models/gpt2/merges.txt");

    nlohmann::json vocab = nlohmann::json::parse(ReadFile(vocab_path));
    id_of_token_ = new std::unordered_map<std::string, int32_t>();
    ByteLevelBpeVocabulary vocabulary;
    vocabulary.tokens.resize(vocab.size());
    for (const auto& [token, id] : vocab.items()) {
      const int32_t index = id.get<int32_t>();
      ASSERT_LT(static_cast<size_t>(index), vocabulary.tokens.size()) << token;
      vocabulary.tokens[index] = token;
      (*id_of_token_)[token] = index;
    }

    std::istringstream merges(ReadFile(merges_path));
    std::string line;
    ASSERT_TRUE(std::getline(merges, line));
    ASSERT_EQ(line.rfind("#version", 0), 0u) << merges_path << " starts with " << line;
    while (std::getline(merges, line)) {
      if (!line.empty()) vocabulary.merges.push_back(line);
    }
    vocabulary.bos_id = kEndOfText;
    vocabulary.eos_id = kEndOfText;

    absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_ = new ByteLevelBpe(*std::move(tokenizer));
  }

  static void TearDownTestSuite() {
    delete tokenizer_;
    tokenizer_ = nullptr;
    delete id_of_token_;
    id_of_token_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(tokenizer_, nullptr) << "the GPT-2 vocabulary did not load"; }

  // Returns the id of `token` in vocab.json, or -1.
  static int32_t IdOf(const std::string& token) {
    auto it = id_of_token_->find(token);
    return it == id_of_token_->end() ? -1 : it->second;
  }

  static std::vector<int32_t> IdsOf(const std::vector<std::string>& tokens) {
    std::vector<int32_t> ids;
    for (const std::string& token : tokens) {
      ids.push_back(IdOf(token));
      EXPECT_GE(ids.back(), 0) << "\"" << token << "\" is not in vocab.json";
    }
    return ids;
  }

  static ByteLevelBpe* tokenizer_;
  static std::unordered_map<std::string, int32_t>* id_of_token_;
};

ByteLevelBpe* ByteLevelBpeGpt2Test::tokenizer_ = nullptr;
std::unordered_map<std::string, int32_t>* ByteLevelBpeGpt2Test::id_of_token_ = nullptr;

TEST_F(ByteLevelBpeGpt2Test, SizesAndSpecialIds) {
  EXPECT_EQ(tokenizer_->vocab_size(), 50257);
  EXPECT_EQ(tokenizer_->bos_id(), kEndOfText);
  EXPECT_EQ(tokenizer_->eos_id(), kEndOfText);
}

TEST_F(ByteLevelBpeGpt2Test, MatchesLlamaCppTestVectors) {
  const std::string inputs_path =
      textgen::testing::SharedPath("models/gpt2/ggml-vocab-gpt-2.gguf.inp");
  const std::string outputs_path =
      textgen::testing::SharedPath("models/gpt2/ggml-vocab-gpt-2.gguf.out");
  const std::string inputs_file = ReadFile(inputs_path);
  const std::string outputs_file = ReadFile(outputs_path);

  // Each input is followed by the separator, so splitting leaves one empty
  // piece after the last input.
  std::vector<std::string> inputs;
  size_t start = 0;
  while (start < inputs_file.size()) {
    const size_t end = inputs_file.find(kVocabTestSeparator, start);
    ASSERT_NE(end, std::string::npos) << inputs_path << " does not end with the separator";
    inputs.push_back(inputs_file.substr(start, end - start));
    start = end + kVocabTestSeparator.size();
  }

  // One line per input: the ids, each preceded by a space.
  std::vector<std::vector<int32_t>> expected_ids;
  std::istringstream outputs(outputs_file);
  std::string line;
  while (std::getline(outputs, line)) {
    std::istringstream numbers(line);
    std::vector<int32_t> ids;
    int32_t id = 0;
    while (numbers >> id) ids.push_back(id);
    expected_ids.push_back(std::move(ids));
  }

  ASSERT_EQ(inputs.size(), 46u);
  ASSERT_EQ(expected_ids.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    SCOPED_TRACE(::testing::Message()
                 << "input " << i << " \"" << absl::CEscape(inputs[i]) << "\"");
    const std::vector<int32_t> ids = tokenizer_->Encode(inputs[i], /*add_bos=*/false);
    EXPECT_EQ(ids, expected_ids[i]);
    EXPECT_EQ(Decode(*tokenizer_, ids), inputs[i]);
  }
}

TEST_F(ByteLevelBpeGpt2Test, EncodesHelloWorld) {
  EXPECT_THAT(tokenizer_->Encode("Hello world", /*add_bos=*/false), ElementsAre(15496, 995));
  EXPECT_THAT(tokenizer_->Encode("Hello world", /*add_bos=*/true),
              ElementsAre(kEndOfText, 15496, 995));
}

TEST_F(ByteLevelBpeGpt2Test, EmptyTextEncodesToBosOnly) {
  EXPECT_THAT(tokenizer_->Encode("", /*add_bos=*/false), IsEmpty());
  EXPECT_THAT(tokenizer_->Encode("", /*add_bos=*/true), ElementsAre(kEndOfText));
}

TEST_F(ByteLevelBpeGpt2Test, EncodesContractions) {
  EXPECT_EQ(tokenizer_->Encode("I'm sure they're", false),
            IdsOf({"I", "'m", "Ġsure", "Ġthey", "'re"}));
  EXPECT_EQ(tokenizer_->Encode("don't", false), IdsOf({"don", "'t"}));
}

TEST_F(ByteLevelBpeGpt2Test, EncodesWhitespaceRuns) {
  // "Ġ" is the space, "Ċ" the newline, in the byte alphabet.
  EXPECT_EQ(tokenizer_->Encode("a  b", false), IdsOf({"a", "Ġ", "Ġb"}));
  EXPECT_EQ(tokenizer_->Encode("x\n\n\ny", false), IdsOf({"x", "ĊĊ", "Ċ", "y"}));
  EXPECT_EQ(tokenizer_->Encode("end   ", false), IdsOf({"end", "Ġ", "Ġ", "Ġ"}));
}

TEST_F(ByteLevelBpeGpt2Test, EncodesDigits) {
  // GPT-2 encodes "3" as 18, "33" as 2091 and "333" as 20370.
  EXPECT_THAT(tokenizer_->Encode("3", false), ElementsAre(18));
  EXPECT_THAT(tokenizer_->Encode("abc333", false), ElementsAre(IdOf("abc"), 20370));
  const std::string digits = "31415926535897932384626433832795";
  EXPECT_EQ(Decode(*tokenizer_, tokenizer_->Encode(digits, false)), digits);
}

TEST_F(ByteLevelBpeGpt2Test, ChineseAndEmojiRoundTrip) {
  for (const std::string text : {"你好，世界", "我想在apple工作1314151天～",
                                 "🦙🚀 done 😶‍🌫️ (👍🏽)", "Cửa Việt"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(Decode(*tokenizer_, tokenizer_->Encode(text, false)), text);
  }
}

TEST_F(ByteLevelBpeGpt2Test, InvalidUtf8RoundTripsByteExactly) {
  const std::vector<std::string> texts = {
      "a\xff\xfe"
      "b",
      " \x80",
      "\xe4\xb8",
      "\xe4\xb8 world",
      "\xc1\x81",
      "\xed\xa0\x80",
      "\xf4\x90\x80\x80",
      "caf\xc3",
      std::string("nul\0byte", 8),
  };
  for (const std::string& text : texts) {
    SCOPED_TRACE(absl::CEscape(text));
    EXPECT_EQ(Decode(*tokenizer_, tokenizer_->Encode(text, false)), text);
  }
}

TEST_F(ByteLevelBpeGpt2Test, RandomBytesRoundTrip) {
  // Bytes drawn from a mix of ASCII, UTF-8 lead and continuation bytes, so
  // that both valid and broken characters occur.
  std::mt19937 random(20240501);
  const std::string alphabet = "ab1 \n\t'sre!?.\xc3\xa9\xe4\xb8\xad\xf0\x9f\xa6\x99\x80\xbf\xff";
  std::uniform_int_distribution<size_t> length_distribution(0, 64);
  std::uniform_int_distribution<size_t> byte_distribution(0, alphabet.size() - 1);
  for (int round = 0; round < 500; ++round) {
    std::string text(length_distribution(random), '\0');
    for (char& byte : text) byte = alphabet[byte_distribution(random)];
    SCOPED_TRACE(absl::CEscape(text));
    const std::vector<int32_t> ids = tokenizer_->Encode(text, false);
    ASSERT_EQ(Decode(*tokenizer_, ids), text);
  }
}

TEST_F(ByteLevelBpeGpt2Test, EndOfTextInInputIsPlainText) {
  const std::string text = "a<|endoftext|>b";
  const std::vector<int32_t> ids = tokenizer_->Encode(text, false);
  EXPECT_THAT(ids, Not(Contains(kEndOfText)));
  EXPECT_EQ(Decode(*tokenizer_, ids), text);
}

TEST_F(ByteLevelBpeGpt2Test, TokenBytesMapsByteAlphabet) {
  EXPECT_EQ(tokenizer_->TokenBytes(-1, 995), " world");
  EXPECT_EQ(tokenizer_->TokenBytes(-1, IdOf("Ċ")), "\n");
  EXPECT_EQ(tokenizer_->TokenBytes(-1, IdOf("ÿ")), "\xff");
  // Without token types, <|endoftext|> is a normal token of ASCII characters.
  EXPECT_EQ(tokenizer_->TokenBytes(-1, kEndOfText), "<|endoftext|>");
}

TEST_F(ByteLevelBpeGpt2Test, TokenBytesOutsideVocabularyIsEmpty) {
  EXPECT_EQ(tokenizer_->TokenBytes(-1, -1), "");
  EXPECT_EQ(tokenizer_->TokenBytes(-1, 50257), "");
}

// ---------------------------------------------------------------------------
// Create() on small hand-made vocabularies.

TEST(ByteLevelBpeCreateTest, SmallVocabularyMergesByRank) {
  absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(SmallVocabulary());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ(tokenizer->vocab_size(), 259);
  // " th" merges "Ġ t" (rank 0), then "Ġt h" (rank 1). "e" has no merge.
  EXPECT_THAT(tokenizer->Encode(" th the", false), ElementsAre(257, 257, 'e'));
  EXPECT_THAT(tokenizer->Encode(" t", true), ElementsAre(258, 256));
  EXPECT_EQ(tokenizer->TokenBytes(-1, 257), " th");
}

TEST(ByteLevelBpeCreateTest, ControlTokenDecodesToNothing) {
  ByteLevelBpeVocabulary vocabulary = SmallVocabulary();
  vocabulary.token_types.assign(vocabulary.tokens.size(), 1);
  vocabulary.token_types[258] = kTokenTypeControl;
  absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ(tokenizer->TokenBytes(-1, 258), "");
  EXPECT_EQ(tokenizer->TokenBytes(-1, 256), " t");
}

TEST(ByteLevelBpeCreateTest, UserDefinedTokenDecodesAsWritten) {
  ByteLevelBpeVocabulary vocabulary = SmallVocabulary();
  vocabulary.tokens.push_back("two words");
  vocabulary.token_types.assign(vocabulary.tokens.size(), 1);
  vocabulary.token_types[259] = kTokenTypeUserDefined;
  absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ(tokenizer->TokenBytes(-1, 259), "two words");
}

TEST(ByteLevelBpeCreateTest, RejectsCharacterOutsideAlphabet) {
  ByteLevelBpeVocabulary vocabulary = SmallVocabulary();
  vocabulary.tokens.push_back("two words");
  absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("token 259 \"two words\" contains U+0020"));
}

TEST(ByteLevelBpeCreateTest, RejectsInvalidUtf8Token) {
  ByteLevelBpeVocabulary vocabulary = SmallVocabulary();
  vocabulary.tokens.push_back("ab\xff");
  absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("token 259 \"ab\\377\""));
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("invalid UTF-8 at byte 2"));
}

TEST(ByteLevelBpeCreateTest, RejectsDuplicateToken) {
  ByteLevelBpeVocabulary vocabulary = SmallVocabulary();
  vocabulary.tokens.push_back("Ġt");
  absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("token 259 \"Ġt\" repeats token 256"));
}

TEST(ByteLevelBpeCreateTest, RejectsMissingByteToken) {
  ByteLevelBpeVocabulary vocabulary = SmallVocabulary();
  vocabulary.tokens['\n'] = "ĊĊ";  // the only token of the newline byte, "Ċ", is gone
  absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("no token \"Ċ\" for byte 0x0A"));
}

TEST(ByteLevelBpeCreateTest, RejectsByteTokenOfControlType) {
  ByteLevelBpeVocabulary vocabulary = SmallVocabulary();
  vocabulary.token_types.assign(vocabulary.tokens.size(), 1);
  vocabulary.token_types['A'] = kTokenTypeControl;
  absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("token 65 \"A\" of byte 0x41"));
}

TEST(ByteLevelBpeCreateTest, RejectsMergeOfUnknownToken) {
  ByteLevelBpeVocabulary vocabulary = SmallVocabulary();
  vocabulary.merges.push_back("Ġ zz");
  absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(),
              HasSubstr("merge 2 \"Ġ zz\" names \"zz\", which is not a token"));
}

TEST(ByteLevelBpeCreateTest, RejectsMergeWithoutMergedToken) {
  ByteLevelBpeVocabulary vocabulary = SmallVocabulary();
  vocabulary.merges.push_back("a b");
  absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(),
              HasSubstr("merge 2 \"a b\" makes \"ab\", which is not a token"));
}

TEST(ByteLevelBpeCreateTest, RejectsMalformedMerge) {
  for (const std::string merge : {"Ġt", " t", "Ġ ", "Ġ t h", ""}) {
    SCOPED_TRACE(merge);
    ByteLevelBpeVocabulary vocabulary = SmallVocabulary();
    vocabulary.merges.push_back(merge);
    absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
    ASSERT_FALSE(tokenizer.ok());
    EXPECT_THAT(tokenizer.status().message(), HasSubstr("merge 2"));
    EXPECT_THAT(tokenizer.status().message(),
                HasSubstr("is not two tokens separated by one space"));
  }
}

TEST(ByteLevelBpeCreateTest, RejectsDuplicateMerge) {
  ByteLevelBpeVocabulary vocabulary = SmallVocabulary();
  vocabulary.merges.push_back("Ġ t");
  absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("merge 2 \"Ġ t\" repeats merge 0"));
}

TEST(ByteLevelBpeCreateTest, RejectsSpecialIdsOutsideVocabulary) {
  ByteLevelBpeVocabulary vocabulary = SmallVocabulary();
  vocabulary.bos_id = 259;
  absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(),
              HasSubstr("BOS id 259 is outside the vocabulary of 259 tokens"));

  vocabulary = SmallVocabulary();
  vocabulary.eos_id = -1;
  tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("EOS id -1 is outside the vocabulary"));
}

TEST(ByteLevelBpeCreateTest, RejectsTokenTypeCountMismatch) {
  ByteLevelBpeVocabulary vocabulary = SmallVocabulary();
  vocabulary.token_types.assign(3, 1);
  absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("259 tokens but 3 token types"));
}

TEST(ByteLevelBpeCreateTest, RejectsUnknownTokenType) {
  ByteLevelBpeVocabulary vocabulary = SmallVocabulary();
  vocabulary.token_types.assign(vocabulary.tokens.size(), 1);
  vocabulary.token_types[257] = 9;
  absl::StatusOr<ByteLevelBpe> tokenizer = ByteLevelBpe::Create(std::move(vocabulary));
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("token 257 \"Ġth\" has type 9"));
}

}  // namespace
}  // namespace textgen
