#!/usr/bin/python3
"""Compute greedy continuations of a llama2.c legacy checkpoint with numpy.

This is an independent reference for the tokenizer, the Llama forward pass and the
greedy generation loop of llama2.c's run.c. Tests use its JSONL output as the expected
tokens of the C++ engine.

Each line of the prompts file is one JSON string. Each output line is a JSON object
with the fields prompt, prompt_token_ids, generated_token_ids, finish ("eos" or
"length"), continuation and text_exact.

Run it with Debian's /usr/bin/python3 and the python3-numpy package:

    /usr/bin/python3 tools/reference/llama2c_reference.py \
        --model stories260K.bin --tokenizer tok512.bin \
        --prompts prompts.txt --output greedy.jsonl --report-margins
"""

import argparse
import dataclasses
import json
import struct
import sys
import time

import numpy as np

BOS_ID = 1
EOS_ID = 2
RMS_NORM_EPSILON = np.float32(1e-5)
ROPE_THETA = np.float32(10000.0)
# Logit margins below this value are flagged in the --report-margins output.
NEAR_TIE_MARGIN = 1e-3


class ReferenceError(Exception):
    """Invalid input file or prompt."""


@dataclasses.dataclass
class Config:
    dim: int
    hidden_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    seq_len: int
    shared_classifier: bool

    @property
    def head_size(self) -> int:
        return self.dim // self.n_heads

    @property
    def kv_dim(self) -> int:
        return self.n_kv_heads * self.head_size


@dataclasses.dataclass
class Weights:
    """Checkpoint tensors. Every matrix is [out, in], so a layer computes W @ x."""

    token_embedding: np.ndarray  # [vocab, dim]
    rms_att: np.ndarray  # [n_layers, dim]
    wq: np.ndarray  # [n_layers, dim, dim]
    wk: np.ndarray  # [n_layers, kv_dim, dim]
    wv: np.ndarray  # [n_layers, kv_dim, dim]
    wo: np.ndarray  # [n_layers, dim, dim]
    rms_ffn: np.ndarray  # [n_layers, dim]
    w1: np.ndarray  # [n_layers, hidden_dim, dim]
    w2: np.ndarray  # [n_layers, dim, hidden_dim]
    w3: np.ndarray  # [n_layers, hidden_dim, dim]
    rms_final: np.ndarray  # [dim]
    classifier: np.ndarray  # [vocab, dim]


def load_checkpoint(path: str) -> tuple[Config, Weights]:
    """Read a llama2.c legacy checkpoint: 7 int32 header fields, then float32 tensors.

    A negative vocab_size in the header means the file ends with a separate classifier
    matrix. Otherwise the classifier is the token embedding table.
    """
    with open(path, "rb") as file:
        data = file.read()

    header_size = 7 * 4
    if len(data) < header_size:
        raise ReferenceError(f"{path}: file is {len(data)} bytes, shorter than the 28-byte header")
    dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len = struct.unpack_from("<7i", data, 0)
    config = Config(
        dim=dim,
        hidden_dim=hidden_dim,
        n_layers=n_layers,
        n_heads=n_heads,
        n_kv_heads=n_kv_heads,
        vocab_size=abs(vocab_size),
        seq_len=seq_len,
        shared_classifier=vocab_size > 0,
    )
    validate_config(path, config)

    head_size = config.head_size
    kv_dim = config.kv_dim
    layers = config.n_layers
    shapes = [
        ("token_embedding", (config.vocab_size, dim)),
        ("rms_att", (layers, dim)),
        ("wq", (layers, dim, dim)),
        ("wk", (layers, kv_dim, dim)),
        ("wv", (layers, kv_dim, dim)),
        ("wo", (layers, dim, dim)),
        ("rms_ffn", (layers, dim)),
        ("w1", (layers, hidden_dim, dim)),
        ("w2", (layers, dim, hidden_dim)),
        ("w3", (layers, hidden_dim, dim)),
        ("rms_final", (dim,)),
        # Precomputed RoPE tables. They are skipped, because Transformer.rotate computes
        # the same values (within 1 ulp for stories260K) from the frequency formula.
        ("freq_cis_real", (seq_len, head_size // 2)),
        ("freq_cis_imag", (seq_len, head_size // 2)),
    ]
    if not config.shared_classifier:
        shapes.append(("classifier", (config.vocab_size, dim)))

    expected_floats = sum(int(np.prod(shape)) for _, shape in shapes)
    expected_size = header_size + 4 * expected_floats
    if len(data) != expected_size:
        raise ReferenceError(
            f"{path}: file is {len(data)} bytes, but the header {config} requires {expected_size} bytes"
        )

    floats = np.frombuffer(data, dtype="<f4", offset=header_size).astype(np.float32)
    tensors = {}
    offset = 0
    for name, shape in shapes:
        count = int(np.prod(shape))
        tensors[name] = floats[offset : offset + count].reshape(shape)
        offset += count
    del tensors["freq_cis_real"], tensors["freq_cis_imag"]
    if config.shared_classifier:
        tensors["classifier"] = tensors["token_embedding"]

    return config, Weights(**tensors)


def validate_config(path: str, config: Config) -> None:
    """Raise ReferenceError unless the header describes a model this code can run."""
    positive_fields = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"]
    for name in positive_fields:
        if getattr(config, name) <= 0:
            raise ReferenceError(f"{path}: header field {name} is {getattr(config, name)}, expected > 0")
    if config.dim % config.n_heads != 0:
        raise ReferenceError(f"{path}: dim {config.dim} is not a multiple of n_heads {config.n_heads}")
    if config.head_size % 2 != 0:
        raise ReferenceError(f"{path}: head size {config.head_size} is odd, so RoPE pairs do not fit")
    if config.n_heads % config.n_kv_heads != 0:
        raise ReferenceError(
            f"{path}: n_heads {config.n_heads} is not a multiple of n_kv_heads {config.n_kv_heads}"
        )


class Tokenizer:
    """llama2.c tokenizer: SentencePiece-style BPE over a scored vocabulary of byte strings."""

    def __init__(self, path: str, vocab_size: int):
        """Read the first vocab_size entries of a llama2.c tokenizer file.

        The file contains int32 max_token_length, then for each token a float32 score,
        an int32 byte length and the piece bytes. Any bytes after the first vocab_size
        entries are ignored.
        """
        with open(path, "rb") as file:
            data = file.read()

        offset = 4  # skip max_token_length, which encoding and decoding do not need
        self.pieces: list[bytes] = []
        self.scores: list[float] = []
        for token_id in range(vocab_size):
            if offset + 8 > len(data):
                raise ReferenceError(f"{path}: file ends at token {token_id}, but the model has {vocab_size} tokens")
            score, length = struct.unpack_from("<fi", data, offset)
            offset += 8
            if length < 0 or offset + length > len(data):
                raise ReferenceError(f"{path}: token {token_id} has invalid length {length}")
            self.pieces.append(data[offset : offset + length])
            self.scores.append(score)
            offset += length

        self.piece_to_id: dict[bytes, int] = {}
        for token_id, piece in enumerate(self.pieces):
            if piece in self.piece_to_id:
                # Duplicates are rejected because a lookup by piece, as encoding does,
                # could then return either id.
                raise ReferenceError(f"{path}: piece {piece!r} occurs twice, at ids {self.piece_to_id[piece]} and {token_id}")
            self.piece_to_id[piece] = token_id

    def lookup(self, piece: bytes) -> int:
        """Return the id of piece, or -1 when the vocabulary does not contain it."""
        return self.piece_to_id.get(piece, -1)

    def encode(self, text: str) -> list[int]:
        """Tokenize text as run.c does: BOS, a dummy prefix space, then BPE merges by score."""
        data = text.encode("utf-8")
        if b"\0" in data:
            # run.c receives the prompt as a C string, so it could never see this byte.
            raise ReferenceError(f"prompt {text!r} contains a NUL character")

        token_ids = [BOS_ID]
        if data:
            space_id = self.lookup(b" ")
            if space_id < 0:
                raise ReferenceError("the vocabulary has no piece ' ' for the dummy prefix")
            token_ids.append(space_id)

        for group in split_utf8_groups(data):
            group_id = self.lookup(group)
            if group_id >= 0:
                token_ids.append(group_id)
                continue
            for byte in group:
                byte_piece = b"<0x%02X>" % byte
                byte_id = self.lookup(byte_piece)
                if byte_id < 0:
                    raise ReferenceError(f"the vocabulary has no byte piece {byte_piece.decode()}")
                token_ids.append(byte_id)

        self.merge_pairs(token_ids)
        return token_ids

    def merge_pairs(self, token_ids: list[int]) -> None:
        """Merge adjacent pairs in place, each time the pair whose merged piece has the highest score.

        The scan runs left to right and replaces the best pair only on a strictly greater
        score, so the leftmost pair wins a tie. Merging stops when no pair forms a piece.
        The BOS token takes part in the pair scan too.
        """
        while True:
            best_score = None
            best_index = -1
            best_id = -1
            for index in range(len(token_ids) - 1):
                merged = self.pieces[token_ids[index]] + self.pieces[token_ids[index + 1]]
                merged_id = self.lookup(merged)
                if merged_id < 0:
                    continue
                score = self.scores[merged_id]
                if best_score is None or score > best_score:
                    best_score = score
                    best_index = index
                    best_id = merged_id
            if best_index < 0:
                return
            token_ids[best_index : best_index + 2] = [best_id]

    def decode_piece(self, previous_id: int, token_id: int) -> bytes:
        """Return the bytes of token_id when it follows previous_id.

        A piece that follows BOS loses one leading space, and a byte piece <0xNN> stands
        for the raw byte NN.
        """
        piece = self.pieces[token_id]
        if previous_id == BOS_ID and piece.startswith(b" "):
            piece = piece[1:]
        if len(piece) == 6 and piece.startswith(b"<0x") and piece.endswith(b">"):
            try:
                return bytes([int(piece[3:5], 16)])
            except ValueError:
                pass
        return piece


def split_utf8_groups(data: bytes) -> list[bytes]:
    """Split bytes into groups of a lead byte plus the continuation bytes (10xxxxxx) that follow it.

    A group contains at most 4 bytes. A continuation byte with no lead byte before it
    starts a new group.
    """
    groups = []
    start = 0
    while start < len(data):
        end = start + 1
        while end < len(data) and end - start < 4 and (data[end] & 0xC0) == 0x80:
            end += 1
        groups.append(data[start:end])
        start = end
    return groups


def rmsnorm(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    mean_square = np.float32(np.dot(x, x) / np.float32(x.shape[0]))
    scale = np.float32(1.0) / np.sqrt(mean_square + RMS_NORM_EPSILON, dtype=np.float32)
    return weight * (scale * x)


def silu(x: np.ndarray) -> np.ndarray:
    return x * (np.float32(1.0) / (np.float32(1.0) + np.exp(-x)))


class Transformer:
    """Llama forward pass, one token at a time, with a key/value cache over all positions."""

    def __init__(self, config: Config, weights: Weights):
        self.config = config
        self.weights = weights
        shape = (config.n_layers, config.seq_len, config.n_kv_heads, config.head_size)
        self.key_cache = np.zeros(shape, dtype=np.float32)
        self.value_cache = np.zeros(shape, dtype=np.float32)

        # RoPE frequency of each pair (j, j + 1) in a head: 1 / 10000^(j / head_size),
        # computed in float32 like run.c's powf.
        even_dims = np.arange(0, config.head_size, 2).astype(np.float32)
        exponents = even_dims / np.float32(config.head_size)
        self.rope_frequencies = np.float32(1.0) / np.power(ROPE_THETA, exponents, dtype=np.float32)

    def rotate(self, vectors: np.ndarray, pos: int) -> np.ndarray:
        """Apply RoPE at position pos to vectors of shape [heads, head_size]."""
        angles = np.float32(pos) * self.rope_frequencies
        # cos and sin are computed in float64 and rounded to float32, so in nearly all
        # cases they are the float32 values nearest to the exact cosine and sine.
        cos = np.cos(angles.astype(np.float64)).astype(np.float32)
        sin = np.sin(angles.astype(np.float64)).astype(np.float32)
        real = vectors[:, 0::2]
        imag = vectors[:, 1::2]
        rotated = np.empty_like(vectors)
        rotated[:, 0::2] = real * cos - imag * sin
        rotated[:, 1::2] = real * sin + imag * cos
        return rotated

    def forward(self, token_id: int, pos: int) -> np.ndarray:
        """Run token_id at position pos and return the float32 logits.

        Positions must be fed in order from 0, because attention reads the cache
        entries 0..pos that earlier calls stored.
        """
        config = self.config
        weights = self.weights
        head_size = config.head_size
        group_size = config.n_heads // config.n_kv_heads
        sqrt_head_size = np.sqrt(np.float32(head_size), dtype=np.float32)

        x = weights.token_embedding[token_id].copy()
        for layer in range(config.n_layers):
            xb = rmsnorm(x, weights.rms_att[layer])
            q = (weights.wq[layer] @ xb).reshape(config.n_heads, head_size)
            k = (weights.wk[layer] @ xb).reshape(config.n_kv_heads, head_size)
            v = (weights.wv[layer] @ xb).reshape(config.n_kv_heads, head_size)
            q = self.rotate(q, pos)
            k = self.rotate(k, pos)
            self.key_cache[layer, pos] = k
            self.value_cache[layer, pos] = v

            # Query head h attends with key/value head h // group_size.
            keys = self.key_cache[layer, : pos + 1]  # [positions, n_kv_heads, head_size]
            values = self.value_cache[layer, : pos + 1]
            grouped_q = q.reshape(config.n_kv_heads, group_size, head_size)
            scores = np.einsum("kgd,tkd->kgt", grouped_q, keys) / sqrt_head_size
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            probabilities = scores / scores.sum(axis=-1, keepdims=True, dtype=np.float32)
            attention = np.einsum("kgt,tkd->kgd", probabilities, values).reshape(config.dim)
            x = x + weights.wo[layer] @ attention

            xb = rmsnorm(x, weights.rms_ffn[layer])
            hidden = silu(weights.w1[layer] @ xb) * (weights.w3[layer] @ xb)
            x = x + weights.w2[layer] @ hidden

        x = rmsnorm(x, weights.rms_final)
        logits = weights.classifier @ x
        assert logits.dtype == np.float32, logits.dtype
        return logits


@dataclasses.dataclass
class Generation:
    prompt_token_ids: list[int]
    generated_token_ids: list[int]
    finish: str
    # Smallest gap between the largest and second-largest logit over all sampled steps.
    # min_margin_step is the index of that step among the sampled tokens, counting the stop token.
    min_margin: float
    min_margin_step: int


def top_two_margin(logits: np.ndarray) -> float:
    top_two = np.partition(logits, -2)[-2:]
    return float(top_two[1]) - float(top_two[0])


def generate_greedy(model: Transformer, prompt_token_ids: list[int]) -> Generation:
    """Generate greedily after the prompt like run.c with steps = seq_len.

    The model runs at positions 0..seq_len-1 and a token is sampled after each position
    from the last prompt token on. Generation stops at token 1 (BOS) or 2 (EOS), which
    is not emitted. Otherwise the token sampled after position seq_len-1 is the last one.
    """
    seq_len = model.config.seq_len
    generated = []
    min_margin = float("inf")
    min_margin_step = -1
    token_id = prompt_token_ids[0]
    for pos in range(seq_len):
        logits = model.forward(token_id, pos)
        if pos + 1 < len(prompt_token_ids):
            token_id = prompt_token_ids[pos + 1]
            continue

        margin = top_two_margin(logits)
        if margin < min_margin:
            min_margin = margin
            min_margin_step = len(generated)
        token_id = int(np.argmax(logits))  # the first index of the maximum on ties
        # NOTE: run.c stops only on token 1 and would go on after token 2. Token 2 ends
        # generation here so that engines stopping at EOS agree with this reference.
        if token_id in (BOS_ID, EOS_ID):
            return Generation(prompt_token_ids, generated, "eos", min_margin, min_margin_step)
        generated.append(token_id)

    return Generation(prompt_token_ids, generated, "length", min_margin, min_margin_step)


def decode_continuation(tokenizer: Tokenizer, generation: Generation) -> tuple[str, bool]:
    """Return the text of the generated tokens and whether it is valid UTF-8.

    Invalid UTF-8 (for example a character cut between byte tokens) becomes U+FFFD, and
    then the text is not exact.
    """
    previous_id = generation.prompt_token_ids[-1]
    data = bytearray()
    for token_id in generation.generated_token_ids:
        data += tokenizer.decode_piece(previous_id, token_id)
        previous_id = token_id
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), False


def read_prompts(path: str) -> list[str]:
    """Read one JSON string per line. Lines that contain only whitespace are skipped."""
    prompts = []
    with open(path, encoding="utf-8") as file:
        for line_number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                prompt = json.loads(line)
            except json.JSONDecodeError as error:
                raise ReferenceError(f"{path}:{line_number}: invalid JSON: {error}") from error
            if not isinstance(prompt, str):
                raise ReferenceError(f"{path}:{line_number}: expected a JSON string, got {type(prompt).__name__}")
            prompts.append(prompt)
    return prompts


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Write greedy continuations of a llama2.c legacy checkpoint, computed with numpy, as JSONL."
    )
    parser.add_argument("--model", required=True, help="llama2.c legacy checkpoint (.bin)")
    parser.add_argument("--tokenizer", required=True, help="llama2.c tokenizer file (for example tok512.bin)")
    parser.add_argument("--prompts", required=True, help="text file with one prompt per line, each a JSON string")
    parser.add_argument("--output", required=True, help="output JSONL file, one object per prompt")
    parser.add_argument(
        "--report-margins",
        action="store_true",
        help="print, for each prompt, the smallest gap between the top-1 and top-2 logits over all sampled steps",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    try:
        config, weights = load_checkpoint(arguments.model)
        tokenizer = Tokenizer(arguments.tokenizer, config.vocab_size)
        prompts = read_prompts(arguments.prompts)
        encoded_prompts = [tokenizer.encode(prompt) for prompt in prompts]
    except (OSError, ReferenceError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    for index, token_ids in enumerate(encoded_prompts):
        if len(token_ids) > config.seq_len:
            print(
                f"error: prompt {index} (counting from 0) has {len(token_ids)} tokens,"
                f" more than the context of {config.seq_len} positions. Shorten the prompt.",
                file=sys.stderr,
            )
            return 1

    with open(arguments.output, "w", encoding="utf-8") as output:
        for index, (prompt, token_ids) in enumerate(zip(prompts, encoded_prompts)):
            started = time.perf_counter()
            model = Transformer(config, weights)
            generation = generate_greedy(model, token_ids)
            elapsed = time.perf_counter() - started
            continuation, text_exact = decode_continuation(tokenizer, generation)
            record = {
                "prompt": prompt,
                "prompt_token_ids": generation.prompt_token_ids,
                "generated_token_ids": generation.generated_token_ids,
                "finish": generation.finish,
                "text_exact": text_exact,
                "continuation": continuation,
            }
            output.write(json.dumps(record, ensure_ascii=False) + "\n")

            if arguments.report_margins:
                flag = "  NEAR TIE" if generation.min_margin < NEAR_TIE_MARGIN else ""
                print(
                    f"prompt {index}: {len(token_ids)} prompt tokens, {len(generation.generated_token_ids)} generated,"
                    f" finish {generation.finish}, min margin {generation.min_margin:.6g}"
                    f" at step {generation.min_margin_step}, {elapsed:.2f} s{flag}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
