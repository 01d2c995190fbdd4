#!/usr/bin/python3
"""Train the tiny GPT-2 story model on the tokenized corpus.

The corpus is tokenized with the tokenizer from train_tokenizer.py into one stream in
which every story is preceded and followed by the <|endoftext|> id. The last stories
(--validation-fraction) form the validation stream. Each step trains on a batch of
random windows of context_length + 1 tokens from the training stream with AdamW and a
linear warm-up followed by a cosine learning-rate decay. All randomness comes from
--seed, so the same inputs, seed, torch version and thread count give the same weights.

Usage: train_model.py --corpus corpus.txt --tokenizer tokenizer.json --output model.pt
"""

import argparse
import dataclasses
import math
import sys
import time

import torch
import torch.nn.functional as F

import bpe
from gpt2_model import GPT2, ModelConfig, parameter_count

# Fixed windows, evenly spaced over a stream, on which losses are measured.
EVALUATION_WINDOWS = 64


def tokenize_stories(tokenizer: bpe.Tokenizer, stories: list[str]) -> torch.Tensor:
    """Return one stream of ids: <|endoftext|> story <|endoftext|> story ... <|endoftext|>."""
    ids = [tokenizer.end_of_text_id]
    for story in stories:
        ids.extend(tokenizer.encode_text(story))
        ids.append(tokenizer.end_of_text_id)
    return torch.tensor(ids, dtype=torch.long)


def load_streams(corpus_path: str, tokenizer: bpe.Tokenizer, validation_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    with open(corpus_path, encoding="utf-8") as file:
        stories = bpe.split_on_end_of_text(file.read())
    validation_count = max(1, int(len(stories) * validation_fraction))
    training = tokenize_stories(tokenizer, stories[:-validation_count])
    validation = tokenize_stories(tokenizer, stories[-validation_count:])
    print(
        f"train_model: {len(stories) - validation_count} training stories ({len(training)} tokens), "
        f"{validation_count} validation stories ({len(validation)} tokens)"
    )
    return training, validation


def windows_at(stream: torch.Tensor, starts: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (inputs, targets) for windows of `length` tokens at the given start offsets."""
    index = starts[:, None] + torch.arange(length + 1)[None, :]
    window = stream[index]
    return window[:, :-1], window[:, 1:]


def random_batch(stream: torch.Tensor, batch_size: int, length: int, generator: torch.Generator):
    starts = torch.randint(0, len(stream) - length - 1, (batch_size,), generator=generator)
    return windows_at(stream, starts, length)


def loss_of(model: GPT2, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = model(inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


@torch.no_grad()
def evaluate(model: GPT2, stream: torch.Tensor, length: int) -> float:
    """Return the mean loss over EVALUATION_WINDOWS evenly spaced windows of the stream."""
    model.eval()
    starts = torch.linspace(0, len(stream) - length - 2, EVALUATION_WINDOWS).long()
    total = 0.0
    for chunk in starts.split(16):
        inputs, targets = windows_at(stream, chunk, length)
        total += loss_of(model, inputs, targets).item() * len(chunk)
    model.train()
    return total / EVALUATION_WINDOWS


def learning_rate_at(step: int, total_steps: int, peak: float, warmup_steps: int) -> float:
    """Linear warm-up to `peak`, then cosine decay to a tenth of it at the last step."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    minimum = peak / 10
    return minimum + 0.5 * (peak - minimum) * (1.0 + math.cos(math.pi * progress))


def make_optimizer(model: GPT2, learning_rate: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices only, not on biases or LayerNorm parameters."""
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    vectors = [p for p in model.parameters() if p.dim() < 2]
    groups = [
        {"params": matrices, "weight_decay": weight_decay},
        {"params": vectors, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=learning_rate, betas=(0.9, 0.95), eps=1e-8)


def train(args: argparse.Namespace, model: GPT2, training: torch.Tensor, validation: torch.Tensor) -> dict:
    length = model.config.context_length
    generator = torch.Generator().manual_seed(args.seed)
    optimizer = make_optimizer(model, args.learning_rate, args.weight_decay)
    started = time.monotonic()
    recent_losses = []

    for step in range(args.steps):
        learning_rate = learning_rate_at(step, args.steps, args.learning_rate, args.warmup_steps)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate
        inputs, targets = random_batch(training, args.batch_size, length, generator)
        loss = loss_of(model, inputs, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

        recent_losses = (recent_losses + [loss.item()])[-args.log_interval:]
        done = step + 1
        if done % args.log_interval == 0 or done == args.steps:
            elapsed = time.monotonic() - started
            tokens_per_second = done * args.batch_size * length / elapsed
            message = (
                f"step {done}/{args.steps} loss {sum(recent_losses) / len(recent_losses):.4f} "
                f"lr {learning_rate:.2e} {elapsed:.0f} s {tokens_per_second:.0f} tokens/s"
            )
            if done % args.eval_interval == 0 or done == args.steps:
                message += f" validation loss {evaluate(model, validation, length):.4f}"
            print(message, flush=True)

    return {
        "steps": args.steps,
        "training_seconds": time.monotonic() - started,
        "training_loss": evaluate(model, training, length),
        "validation_loss": evaluate(model, validation, length),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="corpus text file written by make_corpus.py")
    parser.add_argument("--tokenizer", required=True, help="tokenizer JSON file written by train_tokenizer.py")
    parser.add_argument("--output", required=True, help="path of the torch checkpoint to write")
    parser.add_argument("--steps", type=int, default=1200, help="optimizer steps (default 1200)")
    parser.add_argument("--batch-size", type=int, default=16, help="windows per step (default 16)")
    parser.add_argument("--learning-rate", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    parser.add_argument("--warmup-steps", type=int, default=100, help="linear warm-up steps (default 100)")
    parser.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay (default 0.1)")
    parser.add_argument("--validation-fraction", type=float, default=0.05,
                        help="fraction of stories held out for validation (default 0.05)")
    parser.add_argument("--log-interval", type=int, default=50, help="steps between log lines (default 50)")
    parser.add_argument("--eval-interval", type=int, default=500,
                        help="steps between validation losses (default 500)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    args = parser.parse_args()

    # torch reports 1 thread by default on this Debian build, so set the count explicitly.
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    tokenizer = bpe.Tokenizer.load(args.tokenizer)
    config = ModelConfig(vocab_size=len(tokenizer.tokens))
    training, validation = load_streams(args.corpus, tokenizer, args.validation_fraction)
    model = GPT2(config)
    print(f"train_model: {parameter_count(model)} parameters, {args.steps} steps of "
          f"{args.batch_size} x {config.context_length} tokens, {args.threads} threads")

    results = train(args, model, training, validation)
    print(
        f"train_model: final training loss {results['training_loss']:.4f}, "
        f"validation loss {results['validation_loss']:.4f}, {results['training_seconds']:.0f} s"
    )
    torch.save({"config": dataclasses.asdict(config), "model": model.state_dict(), "results": results}, args.output)
    print(f"train_model: wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
