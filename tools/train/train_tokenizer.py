#!/usr/bin/python3
"""Train a GPT-2 style byte-level BPE vocabulary on the story corpus.

Ids 0-255 are the byte-to-unicode alphabet in GPT-2's order. Each following id is the
result of one merge of the most frequent adjacent pair of symbols, counted over the
pre-tokenized corpus, with ties broken by the lexicographically smallest pair. The last
id is the special token <|endoftext|>. The corpus is split on <|endoftext|> before
pre-tokenizing, so the separator is never merged with text.

The output is a JSON object with "tokens" (strings in the byte-to-unicode alphabet,
index = id) and "merges" ("left right" strings in rank order).

Usage: train_tokenizer.py --corpus corpus.txt --output tokenizer.json [--vocab-size N]
"""

import argparse
import collections
import json
import sys
import time

import bpe


def count_pieces(corpus: str) -> collections.Counter:
    """Count how often each pre-tokenized piece occurs in the corpus."""
    counts = collections.Counter()
    for story in bpe.split_on_end_of_text(corpus):
        counts.update(bpe.pretokenize(story))
    return counts


def count_pairs(words: list[list[str]], frequencies: list[int]) -> collections.Counter:
    pairs = collections.Counter()
    for symbols, frequency in zip(words, frequencies):
        for left, right in zip(symbols, symbols[1:]):
            pairs[(left, right)] += frequency
    return pairs


def apply_merge(symbols: list[str], left: str, right: str) -> list[str]:
    merged = []
    index = 0
    while index < len(symbols):
        if index + 1 < len(symbols) and symbols[index] == left and symbols[index + 1] == right:
            merged.append(left + right)
            index += 2
        else:
            merged.append(symbols[index])
            index += 1
    return merged


def learn_merges(piece_counts: collections.Counter, target_tokens: int) -> tuple[list[str], list[str]]:
    """Learn merges until the vocabulary has target_tokens tokens (special tokens excluded).

    Returns (tokens, merges). Two different merges can produce the same string, for
    example ("ab", "c") and ("a", "bc"). Such a merge is kept in the merge list but adds
    no token, so the merge list can be longer than the number of added tokens.
    """
    tokens = [char for _, char in bpe.byte_alphabet()]
    known_tokens = set(tokens)
    merges = []
    words = [list(piece) for piece in piece_counts]
    frequencies = list(piece_counts.values())

    while len(tokens) < target_tokens:
        pairs = count_pairs(words, frequencies)
        if not pairs:
            raise RuntimeError(
                f"corpus too small: no pairs left to merge at {len(tokens)} tokens, expected {target_tokens}. "
                "Use a larger corpus or a smaller --vocab-size."
            )
        left, right = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(f"{left} {right}")
        if left + right not in known_tokens:
            tokens.append(left + right)
            known_tokens.add(left + right)
        words = [apply_merge(symbols, left, right) for symbols in words]
    return tokens, merges


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="corpus text file written by make_corpus.py")
    parser.add_argument("--output", required=True, help="path of the tokenizer JSON file to write")
    parser.add_argument("--vocab-size", type=int, default=1024,
                        help="total number of tokens including <|endoftext|> (default 1024)")
    args = parser.parse_args()
    if args.vocab_size <= 257:
        parser.error(f"--vocab-size {args.vocab_size} is too small: it must be greater than 257")

    started = time.monotonic()
    with open(args.corpus, encoding="utf-8") as file:
        corpus = file.read()
    piece_counts = count_pieces(corpus)
    tokens, merges = learn_merges(piece_counts, args.vocab_size - 1)
    tokens.append(bpe.END_OF_TEXT)

    with open(args.output, "w", encoding="utf-8") as file:
        json.dump({"tokens": tokens, "merges": merges}, file, ensure_ascii=False, indent=0)
        file.write("\n")
    print(
        f"train_tokenizer: {len(piece_counts)} distinct pieces, {len(tokens)} tokens, "
        f"{len(merges)} merges, {time.monotonic() - started:.1f} s, wrote {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
