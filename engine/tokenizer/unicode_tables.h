#ifndef TEXTGEN_ENGINE_TOKENIZER_UNICODE_TABLES_H_
#define TEXTGEN_ENGINE_TOKENIZER_UNICODE_TABLES_H_

// Unicode character classes of the regex classes \p{L}, \p{N} and \s. The
// tables behind them are generated into unicode_tables.cc by
// tools/unicode/generate_unicode_tables.py, whose header names the Unicode
// version. Code points that version leaves unassigned are in none of the
// classes. Each lookup is a binary search over code point ranges.

namespace textgen {

// Returns whether `code_point` has general category L* (Lu, Ll, Lt, Lm, Lo).
bool IsLetter(char32_t code_point);

// Returns whether `code_point` has general category N* (Nd, Nl, No).
bool IsNumber(char32_t code_point);

// Returns whether `code_point` has the White_Space property: U+0009..U+000D,
// U+0020, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
// U+205F and U+3000. Unlike Python's str.isspace(), this excludes
// U+001C..U+001F.
bool IsWhitespace(char32_t code_point);

}  // namespace textgen

#endif  // TEXTGEN_ENGINE_TOKENIZER_UNICODE_TABLES_H_
