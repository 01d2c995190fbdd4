#include "engine/generate/stop_matcher.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/tokenizer/incremental_detokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace textgen {
namespace {

using ::testing::ElementsAre;

// What a StopMatcher released, piece by piece.
struct Released {
  std::vector<std::string> pieces;  // the return value of each Add
  std::string flushed;              // the return value of Flush
  std::string Text() const {
    std::string text;
    for (const std::string& piece : pieces) text += piece;
    return text + flushed;
  }
};

Released Feed(StopMatcher& matcher, const std::vector<std::string>& pieces) {
  Released released;
  for (const std::string& piece : pieces) released.pieces.push_back(matcher.Add(piece));
  released.flushed = matcher.Flush();
  return released;
}

// A tokenizer whose token i decodes to `token_bytes[i]`.
class FakeTokenizer : public Tokenizer {
 public:
  explicit FakeTokenizer(std::vector<std::string> token_bytes)
      : token_bytes_(std::move(token_bytes)) {}
  std::vector<int32_t> Encode(std::string_view, bool) const override { return {}; }
  std::string TokenBytes(int32_t, int32_t token) const override { return token_bytes_.at(token); }
  int32_t vocab_size() const override { return static_cast<int32_t>(token_bytes_.size()); }
  int32_t bos_id() const override { return -1; }
  int32_t eos_id() const override { return -1; }

 private:
  std::vector<std::string> token_bytes_;
};

// Feeds every token of `tokens` through an IncrementalDetokenizer and then
// the matcher, as Sequence does.
Released FeedTokens(StopMatcher& matcher, const std::vector<std::string>& tokens) {
  FakeTokenizer tokenizer(tokens);
  IncrementalDetokenizer detokenizer(tokenizer, -1);
  Released released;
  for (int32_t id = 0; id < static_cast<int32_t>(tokens.size()); ++id) {
    released.pieces.push_back(matcher.Add(detokenizer.Add(id)));
  }
  released.flushed = matcher.Add(detokenizer.Flush());
  released.flushed += matcher.Flush();
  return released;
}

TEST(StopMatcherTest, MatchInsideOnePiece) {
  StopMatcher matcher({"END"}, false);
  EXPECT_EQ(matcher.Add("abcENDxyz"), "abc");
  EXPECT_TRUE(matcher.matched());
  EXPECT_EQ(matcher.matched_stop(), "END");
  // Text after the match is dropped.
  EXPECT_EQ(matcher.Add("more"), "");
  EXPECT_EQ(matcher.Flush(), "");
}

TEST(StopMatcherTest, NoStopsReleasesEverything) {
  StopMatcher matcher({}, false);
  EXPECT_EQ(matcher.Add("abc"), "abc");
  EXPECT_EQ(matcher.Add(""), "");
  EXPECT_EQ(matcher.Flush(), "");
  EXPECT_FALSE(matcher.matched());
  EXPECT_EQ(matcher.matched_stop(), "");
}

TEST(StopMatcherTest, EmptyStopNeverMatches) {
  StopMatcher matcher({""}, false);
  EXPECT_EQ(matcher.Add("abc"), "abc");
  EXPECT_FALSE(matcher.matched());
}

TEST(StopMatcherTest, MatchAcrossPieces) {
  StopMatcher matcher({"stop here"}, false);
  const Released released = Feed(matcher, {"we stop", " he", "re now"});
  // "stop" and "stop he" can still become the stop string, so they wait.
  EXPECT_THAT(released.pieces, ElementsAre("we ", "", ""));
  EXPECT_EQ(released.Text(), "we ");
  EXPECT_TRUE(matcher.matched());
  EXPECT_EQ(matcher.matched_stop(), "stop here");
}

TEST(StopMatcherTest, HeldTextReleasedWhenItCannotMatch) {
  StopMatcher matcher({"END"}, false);
  EXPECT_EQ(matcher.Add("the EN"), "the ");
  // "ENo" is no prefix of "END", and neither is "No" or "o".
  EXPECT_EQ(matcher.Add("ough"), "ENough");
  EXPECT_EQ(matcher.Add(" E"), " ");
  // "EE" is no prefix of "END", but its last "E" is.
  EXPECT_EQ(matcher.Add("E"), "E");
  EXPECT_EQ(matcher.Flush(), "E");
  EXPECT_FALSE(matcher.matched());
}

TEST(StopMatcherTest, FlushReleasesHeldTail) {
  StopMatcher matcher({"END", "xyz"}, false);
  EXPECT_EQ(matcher.Add("go EN"), "go ");
  EXPECT_EQ(matcher.Flush(), "EN");
  EXPECT_FALSE(matcher.matched());
}

TEST(StopMatcherTest, SelfOverlappingPrefix) {
  // "aaab" contains "aab" from offset 1, so one "a" comes before it.
  StopMatcher matcher({"aab"}, false);
  const Released released = Feed(matcher, {"a", "a", "a", "b"});
  EXPECT_THAT(released.pieces, ElementsAre("", "", "a", ""));
  EXPECT_EQ(released.flushed, "");
  EXPECT_EQ(matcher.matched_stop(), "aab");
}

TEST(StopMatcherTest, OverlappingRestartsInsideHeldText) {
  // "ababac" contains "abac" from offset 2: the held "abab" must keep its
  // second "ab", which starts the real occurrence.
  StopMatcher matcher({"abac"}, false);
  const Released released = Feed(matcher, {"ab", "ab", "ac"});
  EXPECT_THAT(released.pieces, ElementsAre("", "ab", ""));
  EXPECT_TRUE(matcher.matched());
}

TEST(StopMatcherTest, EarliestOccurrenceWinsNotFirstListed) {
  StopMatcher matcher({"world", "hello"}, false);
  EXPECT_EQ(matcher.Add("say hello world"), "say ");
  EXPECT_EQ(matcher.matched_stop(), "hello");
}

TEST(StopMatcherTest, EarliestOccurrenceWinsAcrossPieces) {
  StopMatcher matcher({"lo w", "llo"}, false);
  // "he" is released; "llo" completes in the second piece before "lo w"
  // could.
  const Released released = Feed(matcher, {"hel", "lo", " world"});
  EXPECT_EQ(released.Text(), "he");
  EXPECT_EQ(matcher.matched_stop(), "llo");
}

TEST(StopMatcherTest, OccurrenceThatEndsFirstWins) {
  // In "abcd", "bc" ends at byte 3 and "abcd" at byte 4: generation would
  // have stopped at "bc" before "abcd" was complete.
  StopMatcher matcher({"abcd", "bc"}, false);
  EXPECT_EQ(matcher.Add("abcd"), "a");
  EXPECT_EQ(matcher.matched_stop(), "bc");
}

TEST(StopMatcherTest, LongestWinsWhenOccurrencesEndTogether) {
  StopMatcher one_piece({"c", "abc"}, false);
  EXPECT_EQ(one_piece.Add("xabc"), "x");
  EXPECT_EQ(one_piece.matched_stop(), "abc");

  StopMatcher two_pieces({"c", "abc"}, false);
  const Released released = Feed(two_pieces, {"xab", "c"});
  EXPECT_EQ(released.Text(), "x");
  EXPECT_EQ(two_pieces.matched_stop(), "abc");
}

TEST(StopMatcherTest, IncludeStopInOutput) {
  StopMatcher one_piece({"END"}, true);
  EXPECT_EQ(one_piece.Add("abcENDxyz"), "abcEND");

  StopMatcher pieces({"END"}, true);
  const Released released = Feed(pieces, {"ab", "cE", "NDx", "yz"});
  EXPECT_THAT(released.pieces, ElementsAre("ab", "c", "END", ""));
  EXPECT_EQ(released.flushed, "");
  EXPECT_EQ(pieces.matched_stop(), "END");
}

TEST(StopMatcherTest, IgnoredPieceStillHoldsPossibleStart) {
  StopMatcher matcher({"ab"}, false);
  // The occurrence starts in an ignored piece but ends in a matched one.
  EXPECT_EQ(matcher.Add("xa", /*match_stops=*/false), "x");
  EXPECT_EQ(matcher.Add("b"), "");
  EXPECT_TRUE(matcher.matched());
}

TEST(StopMatcherTest, OccurrenceEndingInIgnoredPieceDoesNotMatch) {
  StopMatcher matcher({"ab"}, false);
  EXPECT_EQ(matcher.Add("xab", /*match_stops=*/false), "xab");
  EXPECT_EQ(matcher.Add("cab"), "c");
  EXPECT_EQ(matcher.matched_stop(), "ab");
}

TEST(StopMatcherTest, MultiByteStopSplitOverTokens) {
  // "é" is C3 A9; the detokenizer releases it when its second byte comes.
  StopMatcher matcher({"\xC3\xA9"}, false);
  const Released released = FeedTokens(matcher, {"caf", "\xC3", "\xA9", "!"});
  EXPECT_THAT(released.pieces, ElementsAre("caf", "", "", ""));
  EXPECT_EQ(released.Text(), "caf");
  EXPECT_TRUE(matcher.matched());
}

TEST(StopMatcherTest, ChineseStopSpanningTokensAndCharacters) {
  // "小猫" is E5 B0 8F E7 8C AB; the stop "a猫" starts with an ASCII letter
  // held back while the three bytes of 猫 arrive in two tokens.
  StopMatcher matcher({"a\xE7\x8C\xAB"}, false);
  const Released released =
      FeedTokens(matcher, {"\xE5\xB0", "\x8Fxa", "\xE7\x8C", "\xAB", "!"});
  EXPECT_THAT(released.pieces, ElementsAre("", "\xE5\xB0\x8Fx", "", "", ""));
  EXPECT_EQ(released.Text(), "\xE5\xB0\x8Fx");
  EXPECT_EQ(matcher.matched_stop(), "a\xE7\x8C\xAB");
}

TEST(StopMatcherTest, MultiByteCharacterSharingLeadByteIsReleased) {
  // "è" (C3 A8) shares its first byte with the stop "é" (C3 A9). The
  // detokenizer releases only whole characters, so the matcher never receives
  // the lone C3 that could look like a partial "é".
  StopMatcher matcher({"\xC3\xA9"}, false);
  const Released released = FeedTokens(matcher, {"\xC3", "\xA8", "x"});
  EXPECT_THAT(released.pieces, ElementsAre("", "\xC3\xA8", "x"));
  EXPECT_FALSE(matcher.matched());
}

TEST(StopMatcherTest, StopEndingInReplacementCharacterMatchesAtFlush) {
  // An incomplete character at the end becomes U+FFFD (EF BF BD) at flush.
  StopMatcher matcher({"x\xEF\xBF\xBD"}, false);
  const Released released = FeedTokens(matcher, {"ax", "\xE7\x8C"});
  EXPECT_THAT(released.pieces, ElementsAre("a", ""));
  EXPECT_EQ(released.flushed, "");
  EXPECT_TRUE(matcher.matched());
}

// Returns `text` cut before the occurrence of `stops` that ends first, the
// longest of those ending at the same byte, found by brute force over every
// end position.
std::string CutAtFirstStop(const std::string& text, const std::vector<std::string>& stops) {
  for (size_t end = 1; end <= text.size(); ++end) {
    size_t best_start = end;
    for (const std::string& stop : stops) {
      if (stop.size() <= end && text.compare(end - stop.size(), stop.size(), stop) == 0) {
        best_start = std::min(best_start, end - stop.size());
      }
    }
    if (best_start < end) return text.substr(0, best_start);
  }
  return text;
}

TEST(StopMatcherTest, EverySplitReleasesSameText) {
  const std::string text = "abaabcababcabd";
  const std::vector<std::vector<std::string>> stop_lists = {
      {"abd"}, {"abab", "bca"}, {"cab", "aabc"}, {"zz", "abcd"}, {"a"}, {"babc", "abc"}};
  for (const std::vector<std::string>& stops : stop_lists) {
    const std::string expected = CutAtFirstStop(text, stops);
    // Bit i of `cuts` is set when a piece ends after byte i.
    for (uint32_t cuts = 0; cuts < (1u << (text.size() - 1)); cuts += 7) {
      std::vector<std::string> pieces(1);
      for (size_t i = 0; i < text.size(); ++i) {
        pieces.back() += text[i];
        if (i + 1 < text.size() && ((cuts >> i) & 1)) pieces.emplace_back();
      }
      StopMatcher matcher(stops, false);
      const Released released = Feed(matcher, pieces);
      ASSERT_EQ(released.Text(), expected) << "stops " << ::testing::PrintToString(stops)
                                           << ", pieces " << ::testing::PrintToString(pieces);
    }
  }
}

}  // namespace
}  // namespace textgen
