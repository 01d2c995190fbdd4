#!/usr/bin/python3
"""Compute golden outputs of the trained model for the C++ engine's tests.

The torch model runs in float32 in eval mode. Every prompt is encoded by the Python
tokenizer with <|endoftext|> (the BOS id) first. The output JSON has:

- "logits": for each of LOGITS_PROMPTS, the prompt's token ids and the logits at the
  last position.
- "greedy": for the GREEDY_CANDIDATES whose greedy run never has a near tie, the
  generated ids. Each step takes the argmax of the last position's logits (the first
  index on ties) and appends it. A run ends with "eos" when the argmax is the EOS id,
  which is not included in the output, or with "length" after max_new_tokens tokens.
  min_margin is the smallest gap between the largest and second largest logit over all
  steps of the run. Candidates with a gap at or below MIN_MARGIN are dropped, because a
  different summation order in another implementation could flip their argmax.

Usage: golden.py --checkpoint model.pt --tokenizer tokenizer.json --output golden.json
"""

import argparse
import json
import sys

import torch

import bpe
from gpt2_model import GPT2, ModelConfig

LOGITS_PROMPTS = [
    "Once upon a time",
    "One day, a little dog named Max went to the park.",
    "\"Thank you!\" said Lily, and she smiled.",
    "A robot sang 42 songs in the cafe\u0301 \U0001F600",
]
GREEDY_CANDIDATES = [
    "Once upon a time",
    "One day, Lily went to the park",
    "There once was a brave boy named Tom.",
    "Max and Sue were playing by the lake.",
    "The little bird",
    "Once upon a time, there was a kind dog named Spot. One day,",
    "Ben had a red kite",
    "Mia was afraid of the dark.",
]
REQUIRED_GREEDY_PROMPT = "Once upon a time"
MAX_GREEDY_PROMPTS = 6
MIN_GREEDY_PROMPTS = 4
MAX_NEW_TOKENS = 200
# Smallest accepted gap between the top two logits of a greedy step.
MIN_MARGIN = 1e-3
MODEL_PATH = "models/textgen-tiny-stories.gguf"


def load_model(checkpoint_path: str) -> GPT2:
    checkpoint = torch.load(checkpoint_path, map_location="cpu")
    model = GPT2(ModelConfig(**checkpoint["config"]))
    model.load_state_dict(checkpoint["model"])
    model.eval()
    return model


def encode_prompt(tokenizer: bpe.Tokenizer, prompt: str) -> list[int]:
    return [tokenizer.end_of_text_id] + tokenizer.encode_text(prompt)


@torch.no_grad()
def last_logits(model: GPT2, token_ids: list[int]) -> torch.Tensor:
    return model(torch.tensor([token_ids]))[0, -1]


def top_two_margin(logits: torch.Tensor) -> float:
    top = torch.topk(logits.double(), 2).values
    return float(top[0] - top[1])


def greedy_generate(model: GPT2, prompt_ids: list[int], eos_id: int, max_new_tokens: int) -> dict:
    """Run greedy decoding without a KV cache, recomputing the whole sequence each step."""
    if len(prompt_ids) + max_new_tokens > model.config.context_length:
        raise ValueError(
            f"prompt of {len(prompt_ids)} tokens plus {max_new_tokens} new tokens exceeds "
            f"the context length {model.config.context_length}"
        )
    generated = []
    margins = []
    finish = "length"
    for _ in range(max_new_tokens):
        logits = last_logits(model, prompt_ids + generated)
        margins.append(top_two_margin(logits))
        # torch.argmax does not promise the first index on ties, so find it explicitly.
        next_id = int(torch.nonzero(logits == logits.max())[0])
        if next_id == eos_id:
            finish = "eos"
            break
        generated.append(next_id)
    return {"generated_token_ids": generated, "finish": finish, "min_margin": min(margins)}


def logits_records(model: GPT2, tokenizer: bpe.Tokenizer) -> list[dict]:
    records = []
    for prompt in LOGITS_PROMPTS:
        token_ids = encode_prompt(tokenizer, prompt)
        logits = last_logits(model, token_ids)
        records.append({"prompt": prompt, "token_ids": token_ids, "last_logits": [float(x) for x in logits]})
    return records


def greedy_records(model: GPT2, tokenizer: bpe.Tokenizer, allow_near_ties: bool) -> list[dict]:
    """Return records for up to MAX_GREEDY_PROMPTS candidates whose min_margin is above
    MIN_MARGIN, or for the first candidates whatever their margin with allow_near_ties."""
    records = []
    for prompt in GREEDY_CANDIDATES:
        prompt_ids = encode_prompt(tokenizer, prompt)
        result = greedy_generate(model, prompt_ids, tokenizer.end_of_text_id, MAX_NEW_TOKENS)
        text = tokenizer.decode(result["generated_token_ids"])
        margin_ok = allow_near_ties or result["min_margin"] > MIN_MARGIN
        accepted = margin_ok and len(records) < MAX_GREEDY_PROMPTS
        print(
            f"golden: {'kept' if accepted else 'dropped'} {prompt!r}: finish {result['finish']}, "
            f"{len(result['generated_token_ids'])} tokens, min_margin {result['min_margin']:.4f}\n  {prompt}{text}"
        )
        if prompt == REQUIRED_GREEDY_PROMPT and not margin_ok:
            raise ValueError(f"required prompt {prompt!r} has min_margin {result['min_margin']}, expected > {MIN_MARGIN}")
        if accepted:
            records.append({
                "prompt": prompt,
                "prompt_token_ids": prompt_ids,
                "max_new_tokens": MAX_NEW_TOKENS,
                "generated_token_ids": result["generated_token_ids"],
                "finish": result["finish"],
                "min_margin": result["min_margin"],
                "generated_text": text,
            })
    if len(records) < MIN_GREEDY_PROMPTS:
        raise ValueError(f"only {len(records)} greedy prompts have min_margin > {MIN_MARGIN}, expected {MIN_GREEDY_PROMPTS}")
    return records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="torch checkpoint written by train_model.py")
    parser.add_argument("--tokenizer", required=True, help="tokenizer JSON file written by train_tokenizer.py")
    parser.add_argument("--output", required=True, help="path of the golden JSON file to write")
    parser.add_argument("--allow-near-ties", action="store_true",
                        help="keep greedy prompts whatever their min_margin (for smoke tests only)")
    # One thread by default: a batch of one short sequence gains little from more threads,
    # and with torch 1.13 on a busy 2-core machine two threads ran about ten times slower than one.
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint)
    tokenizer = bpe.Tokenizer.load(args.tokenizer)
    golden = {
        "model": MODEL_PATH,
        "bos_id": tokenizer.end_of_text_id,
        "eos_id": tokenizer.end_of_text_id,
        "logits": logits_records(model, tokenizer),
        "greedy": greedy_records(model, tokenizer, args.allow_near_ties),
    }
    with open(args.output, "w", encoding="utf-8") as file:
        json.dump(golden, file, ensure_ascii=False, indent=1)
        file.write("\n")
    eos_count = sum(record["finish"] == "eos" for record in golden["greedy"])
    print(f"golden: wrote {args.output}: {len(golden['greedy'])} greedy prompts, {eos_count} end with eos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
