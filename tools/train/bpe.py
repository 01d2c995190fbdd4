"""Byte-level BPE tokenizer in the style of GPT-2, shared by the training scripts.

Text is split by the GPT-2 pre-tokenizer pattern, each piece's UTF-8 bytes are mapped to
printable characters by the byte-to-unicode table, and merges are applied by rank within
each piece. The separator text <|endoftext|> is never passed to the pre-tokenizer: text
is split on it first and each occurrence becomes the end-of-text token id.
"""

import json

import regex

END_OF_TEXT = "<|endoftext|>"
PRETOKENIZE_PATTERN = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)


def byte_alphabet() -> list[tuple[int, str]]:
    """Return the 256 (byte, character) pairs of GPT-2's byte-to-unicode table in its order.

    Printable bytes ('!' to '~', '\xa1' to '\xac', '\xae' to '\xff') map to the character
    with the same code point and come first. The other 68 bytes follow in byte order and
    map to U+0100, U+0101 and onwards. GPT-2's vocabulary uses this order for ids 0-255.
    """
    printable = list(range(ord("!"), ord("~") + 1))
    printable += list(range(0xA1, 0xAC + 1))
    printable += list(range(0xAE, 0xFF + 1))
    pairs = [(byte, chr(byte)) for byte in printable]
    next_code_point = 256
    for byte in range(256):
        if byte not in printable:
            pairs.append((byte, chr(next_code_point)))
            next_code_point += 1
    return pairs


BYTE_TO_CHAR = {byte: char for byte, char in byte_alphabet()}
CHAR_TO_BYTE = {char: byte for byte, char in byte_alphabet()}


def split_on_end_of_text(text: str) -> list[str]:
    """Split text on the end-of-text separator, dropping empty pieces."""
    return [piece for piece in text.split(END_OF_TEXT) if piece]


def pretokenize(text: str) -> list[str]:
    """Split text (without separators) into pieces written in the byte-to-unicode alphabet."""
    pieces = PRETOKENIZE_PATTERN.findall(text)
    return ["".join(BYTE_TO_CHAR[byte] for byte in piece.encode("utf-8")) for piece in pieces]


class Tokenizer:
    """Encoder and decoder for a vocabulary and merge list made by train_tokenizer.py."""

    def __init__(self, tokens: list[str], merges: list[str]):
        self.tokens = tokens
        self.token_ids = {token: index for index, token in enumerate(tokens)}
        self.merge_ranks = {tuple(merge.split(" ")): rank for rank, merge in enumerate(merges)}
        self.end_of_text_id = self.token_ids[END_OF_TEXT]
        self._piece_cache: dict[str, list[int]] = {}

    @classmethod
    def load(cls, path: str) -> "Tokenizer":
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
        return cls(data["tokens"], data["merges"])

    def _encode_piece(self, piece: str) -> list[int]:
        cached = self._piece_cache.get(piece)
        if cached is not None:
            return cached
        symbols = list(piece)
        while len(symbols) > 1:
            # Merge the adjacent pair with the lowest rank, leftmost first on equal rank.
            best_rank = None
            best_index = -1
            for index in range(len(symbols) - 1):
                rank = self.merge_ranks.get((symbols[index], symbols[index + 1]))
                if rank is not None and (best_rank is None or rank < best_rank):
                    best_rank = rank
                    best_index = index
            if best_rank is None:
                break
            symbols[best_index:best_index + 2] = [symbols[best_index] + symbols[best_index + 1]]
        ids = [self.token_ids[symbol] for symbol in symbols]
        self._piece_cache[piece] = ids
        return ids

    def encode_text(self, text: str) -> list[int]:
        """Encode text that contains no end-of-text separator."""
        ids = []
        for piece in pretokenize(text):
            ids.extend(self._encode_piece(piece))
        return ids

    def encode(self, text: str) -> list[int]:
        """Encode text, turning every <|endoftext|> into the end-of-text id."""
        ids = []
        for index, segment in enumerate(text.split(END_OF_TEXT)):
            if index > 0:
                ids.append(self.end_of_text_id)
            ids.extend(self.encode_text(segment))
        return ids

    def decode(self, ids: list[int]) -> str:
        """Decode ids to text. Invalid UTF-8 becomes U+FFFD."""
        parts = []
        pending = bytearray()
        for token_id in ids:
            if token_id == self.end_of_text_id:
                parts.append(pending.decode("utf-8", errors="replace"))
                pending.clear()
                parts.append(END_OF_TEXT)
                continue
            pending.extend(CHAR_TO_BYTE[char] for char in self.tokens[token_id])
        parts.append(pending.decode("utf-8", errors="replace"))
        return "".join(parts)
