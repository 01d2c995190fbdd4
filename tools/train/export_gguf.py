#!/usr/bin/python3
"""Write the trained model and its tokenizer as a GGUF v3 file with F32 tensors.

Metadata keys and tensor names follow llama.cpp's "gpt2" architecture so that GGUF
readers that know GPT-2 can load the file. NOTE: no such third-party reader is installed
here, so the file has been checked only by this script's own reader. The output head is
tied to the token embedding, so the file has no output.weight. After writing, the file is
read back and every metadata value and tensor is compared with what was written.

The GGUF layout is little-endian. A header (magic "GGUF", uint32 version, uint64 tensor
count, uint64 metadata count) is followed by the metadata key/value pairs and one info
record per tensor: name, dims with the fastest-varying dimension first, type, and offset
into the data section. The data section starts at the next multiple of the alignment,
and each tensor in it starts at a multiple of the alignment too.

Usage: export_gguf.py --checkpoint model.pt --tokenizer tokenizer.json --output model.gguf
"""

import argparse
import enum
import json
import os
import struct
import sys

import numpy as np
import torch

import bpe

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32
GGML_TYPE_F32 = 0
MODEL_NAME = "textgen-tiny-stories"
TOKEN_TYPE_NORMAL = 1
TOKEN_TYPE_CONTROL = 3


class ValueType(enum.IntEnum):
    """GGUF metadata value types."""
    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


SCALAR_FORMATS = {
    ValueType.UINT8: "<B", ValueType.INT8: "<b", ValueType.UINT16: "<H", ValueType.INT16: "<h",
    ValueType.UINT32: "<I", ValueType.INT32: "<i", ValueType.FLOAT32: "<f", ValueType.BOOL: "<?",
    ValueType.UINT64: "<Q", ValueType.INT64: "<q", ValueType.FLOAT64: "<d",
}


def pack_string(text: str) -> bytes:
    encoded = text.encode("utf-8")
    return struct.pack("<Q", len(encoded)) + encoded


def pack_value(value_type: ValueType, value) -> bytes:
    if value_type == ValueType.STRING:
        return pack_string(value)
    return struct.pack(SCALAR_FORMATS[value_type], value)


def padding_to_alignment(offset: int) -> int:
    return (ALIGNMENT - offset % ALIGNMENT) % ALIGNMENT


class GgufWriter:
    """Collects metadata and tensors in order, then writes them as one GGUF file."""

    def __init__(self):
        # Each entry is (key, type, value, element type for arrays or None).
        self.metadata: list[tuple[str, ValueType, object, ValueType | None]] = []
        self.tensors: list[tuple[str, np.ndarray]] = []

    def add_scalar(self, key: str, value_type: ValueType, value) -> None:
        self.metadata.append((key, value_type, value, None))

    def add_array(self, key: str, element_type: ValueType, values: list) -> None:
        self.metadata.append((key, ValueType.ARRAY, list(values), element_type))

    def add_tensor(self, name: str, array: np.ndarray) -> None:
        """Add a row-major float32 array. Its GGUF dims are its numpy shape reversed."""
        self.tensors.append((name, np.ascontiguousarray(array, dtype="<f4")))

    def _header(self) -> bytes:
        parts = [GGUF_MAGIC, struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.metadata))]
        for key, value_type, value, element_type in self.metadata:
            parts.append(pack_string(key))
            parts.append(struct.pack("<I", value_type))
            if value_type == ValueType.ARRAY:
                parts.append(struct.pack("<IQ", element_type, len(value)))
                parts.extend(pack_value(element_type, item) for item in value)
            else:
                parts.append(pack_value(value_type, value))
        offset = 0
        for name, array in self.tensors:
            dims = tuple(reversed(array.shape))
            parts.append(pack_string(name))
            parts.append(struct.pack("<I", len(dims)))
            parts.append(struct.pack(f"<{len(dims)}Q", *dims))
            parts.append(struct.pack("<IQ", GGML_TYPE_F32, offset))
            offset += array.nbytes + padding_to_alignment(array.nbytes)
        return b"".join(parts)

    def write(self, path: str) -> None:
        header = self._header()
        with open(path, "wb") as file:
            file.write(header)
            file.write(bytes(padding_to_alignment(len(header))))
            for _, array in self.tensors:
                file.write(array.tobytes())
                file.write(bytes(padding_to_alignment(array.nbytes)))


class GgufReader:
    """Minimal reader that checks the written file. It reads only what GgufWriter writes."""

    def __init__(self, path: str):
        with open(path, "rb") as file:
            self.data = file.read()
        self.position = 0

        if self._take(4) != GGUF_MAGIC:
            raise ValueError(f"{path}: missing GGUF magic")
        version, tensor_count, metadata_count = self._unpack("<IQQ")
        if version != GGUF_VERSION:
            raise ValueError(f"{path}: GGUF version {version}, expected {GGUF_VERSION}")
        self.metadata = {}
        for _ in range(metadata_count):
            key = self._read_string()
            (value_type,) = self._unpack("<I")
            self.metadata[key] = self._read_value(ValueType(value_type))

        infos = []
        for _ in range(tensor_count):
            name = self._read_string()
            (dim_count,) = self._unpack("<I")
            dims = self._unpack(f"<{dim_count}Q")
            tensor_type, offset = self._unpack("<IQ")
            if tensor_type != GGML_TYPE_F32:
                raise ValueError(f"{path}: tensor {name} has type {tensor_type}, expected F32 ({GGML_TYPE_F32})")
            infos.append((name, dims, offset))

        data_start = self.position + padding_to_alignment(self.position)
        self.tensors = {}
        for name, dims, offset in infos:
            if offset % ALIGNMENT != 0:
                raise ValueError(f"{path}: tensor {name} offset {offset} is not a multiple of {ALIGNMENT}")
            count = int(np.prod(dims))
            array = np.frombuffer(self.data, dtype="<f4", count=count, offset=data_start + offset)
            self.tensors[name] = array.reshape(tuple(reversed(dims)))

    def _take(self, size: int) -> bytes:
        chunk = self.data[self.position:self.position + size]
        if len(chunk) != size:
            raise ValueError(f"file ends at byte {len(self.data)}, expected {size} more bytes at {self.position}")
        self.position += size
        return chunk

    def _unpack(self, layout: str) -> tuple:
        return struct.unpack(layout, self._take(struct.calcsize(layout)))

    def _read_string(self) -> str:
        (length,) = self._unpack("<Q")
        return self._take(length).decode("utf-8")

    def _read_value(self, value_type: ValueType):
        if value_type == ValueType.STRING:
            return self._read_string()
        if value_type == ValueType.ARRAY:
            element_type, count = self._unpack("<IQ")
            return [self._read_value(ValueType(element_type)) for _ in range(count)]
        return self._unpack(SCALAR_FORMATS[value_type])[0]


def tensor_name_map(n_layer: int) -> dict[str, str]:
    """Map state_dict names of gpt2_model.GPT2 to llama.cpp's gpt2 GGUF tensor names."""
    names = {
        "token_embedding.weight": "token_embd.weight",
        "position_embedding.weight": "position_embd.weight",
        "output_norm.weight": "output_norm.weight",
        "output_norm.bias": "output_norm.bias",
    }
    per_block = {
        "attn_norm": "attn_norm",
        "attn.qkv": "attn_qkv",
        "attn.output": "attn_output",
        "ffn_norm": "ffn_norm",
        "ffn.up": "ffn_up",
        "ffn.down": "ffn_down",
    }
    for layer in range(n_layer):
        for torch_name, gguf_name in per_block.items():
            for suffix in ("weight", "bias"):
                names[f"blocks.{layer}.{torch_name}.{suffix}"] = f"blk.{layer}.{gguf_name}.{suffix}"
    return names


def add_model_metadata(writer: GgufWriter, config: dict) -> None:
    writer.add_scalar("general.architecture", ValueType.STRING, "gpt2")
    writer.add_scalar("general.name", ValueType.STRING, MODEL_NAME)
    writer.add_scalar("general.alignment", ValueType.UINT32, ALIGNMENT)
    writer.add_scalar("gpt2.context_length", ValueType.UINT32, config["context_length"])
    writer.add_scalar("gpt2.embedding_length", ValueType.UINT32, config["n_embd"])
    writer.add_scalar("gpt2.feed_forward_length", ValueType.UINT32, 4 * config["n_embd"])
    writer.add_scalar("gpt2.block_count", ValueType.UINT32, config["n_layer"])
    writer.add_scalar("gpt2.attention.head_count", ValueType.UINT32, config["n_head"])
    writer.add_scalar("gpt2.attention.layer_norm_epsilon", ValueType.FLOAT32, config["layer_norm_epsilon"])


def add_tokenizer_metadata(writer: GgufWriter, tokens: list[str], merges: list[str]) -> None:
    end_of_text_id = tokens.index(bpe.END_OF_TEXT)
    token_types = [TOKEN_TYPE_CONTROL if token == bpe.END_OF_TEXT else TOKEN_TYPE_NORMAL for token in tokens]
    writer.add_scalar("tokenizer.ggml.model", ValueType.STRING, "gpt2")
    writer.add_scalar("tokenizer.ggml.pre", ValueType.STRING, "gpt-2")
    writer.add_array("tokenizer.ggml.tokens", ValueType.STRING, tokens)
    writer.add_array("tokenizer.ggml.token_type", ValueType.INT32, token_types)
    writer.add_array("tokenizer.ggml.merges", ValueType.STRING, merges)
    writer.add_scalar("tokenizer.ggml.bos_token_id", ValueType.UINT32, end_of_text_id)
    writer.add_scalar("tokenizer.ggml.eos_token_id", ValueType.UINT32, end_of_text_id)
    # Prompts start with <|endoftext|>, as training windows do after a story boundary.
    writer.add_scalar("tokenizer.ggml.add_bos_token", ValueType.BOOL, True)


def add_tensors(writer: GgufWriter, state_dict: dict, n_layer: int) -> None:
    names = tensor_name_map(n_layer)
    unexpected = sorted(set(state_dict) - set(names))
    missing = sorted(set(names) - set(state_dict))
    if unexpected or missing:
        raise ValueError(f"checkpoint tensors do not match the GPT-2 layout: unexpected {unexpected}, missing {missing}")
    for torch_name, gguf_name in names.items():
        writer.add_tensor(gguf_name, state_dict[torch_name].detach().to(torch.float32).numpy())


def verify(path: str, writer: GgufWriter) -> None:
    """Read the file back and raise ValueError on any difference from the writer's content."""
    reader = GgufReader(path)
    for key, value_type, value, _ in writer.metadata:
        read_value = reader.metadata.get(key)
        if value_type == ValueType.FLOAT32:
            value = struct.unpack("<f", struct.pack("<f", value))[0]
        if read_value != value:
            raise ValueError(f"{path}: metadata {key} reads back as {read_value!r}, expected {value!r}")
    for name, array in writer.tensors:
        read_array = reader.tensors.get(name)
        if read_array is None or read_array.shape != array.shape or not np.array_equal(read_array, array):
            raise ValueError(f"{path}: tensor {name} does not read back as written")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="torch checkpoint written by train_model.py")
    parser.add_argument("--tokenizer", required=True, help="tokenizer JSON file written by train_tokenizer.py")
    parser.add_argument("--output", required=True, help="path of the GGUF file to write")
    args = parser.parse_args()

    checkpoint = torch.load(args.checkpoint, map_location="cpu")
    config = checkpoint["config"]
    with open(args.tokenizer, encoding="utf-8") as file:
        tokenizer = json.load(file)
    if len(tokenizer["tokens"]) != config["vocab_size"]:
        raise ValueError(
            f"{args.tokenizer} has {len(tokenizer['tokens'])} tokens, expected the model's vocab_size {config['vocab_size']}"
        )

    writer = GgufWriter()
    add_model_metadata(writer, config)
    add_tokenizer_metadata(writer, tokenizer["tokens"], tokenizer["merges"])
    add_tensors(writer, checkpoint["model"], config["n_layer"])
    writer.write(args.output)
    verify(args.output, writer)
    print(
        f"export_gguf: wrote {args.output}: {len(writer.tensors)} tensors, {len(writer.metadata)} metadata keys, "
        f"{os.path.getsize(args.output)} bytes; read back and verified"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
