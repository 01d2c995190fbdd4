"""GPT-2 architecture in torch: the model that train_model.py trains and golden.py runs.

Learned token and position embeddings, pre-LayerNorm blocks of causal self-attention
(fused q, k, v projection) and a 4x MLP with the tanh approximation of GELU, a final
LayerNorm, and an output head that reuses the token embedding matrix. Every Linear and
LayerNorm has a bias.
"""

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn


@dataclasses.dataclass
class ModelConfig:
    vocab_size: int = 1024
    context_length: int = 256
    n_layer: int = 4
    n_embd: int = 128
    n_head: int = 4
    layer_norm_epsilon: float = 1e-5

    @property
    def feed_forward_length(self) -> int:
        return 4 * self.n_embd


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return F.gelu(x, approximate="tanh")


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_head = config.n_head
        # Output rows 0..n_embd-1 are q, then k, then v.
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.output = nn.Linear(config.n_embd, config.n_embd)
        mask = torch.tril(torch.ones(config.context_length, config.context_length, dtype=torch.bool))
        self.register_buffer("causal_mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        head_size = width // self.n_head
        q, k, v = self.qkv(x).split(width, dim=2)
        # [batch, length, width] -> [batch, head, length, head_size]
        q = q.view(batch, length, self.n_head, head_size).transpose(1, 2)
        k = k.view(batch, length, self.n_head, head_size).transpose(1, 2)
        v = v.view(batch, length, self.n_head, head_size).transpose(1, 2)

        scores = (q @ k.transpose(2, 3)) / math.sqrt(head_size)
        scores = scores.masked_fill(~self.causal_mask[:length, :length], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        attended = (weights @ v).transpose(1, 2).reshape(batch, length, width)
        return self.output(attended)


class FeedForward(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.up = nn.Linear(config.n_embd, config.feed_forward_length)
        self.down = nn.Linear(config.feed_forward_length, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(gelu_tanh(self.up(x)))


class Block(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.attn_norm = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = CausalSelfAttention(config)
        self.ffn_norm = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.ffn = FeedForward(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x))
        return x + self.ffn(self.ffn_norm(x))


class GPT2(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_embedding = nn.Embedding(config.context_length, config.n_embd)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.output_norm = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self._initialize_weights()

    def _initialize_weights(self) -> None:
        """Initialize as GPT-2 does: N(0, 0.02) weights, zero biases, and residual output
        projections scaled down by sqrt(2 * n_layer) because two of them add to each block's
        residual stream."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for block in self.blocks:
            nn.init.normal_(block.attn.output.weight, mean=0.0, std=residual_std)
            nn.init.normal_(block.ffn.down.weight, mean=0.0, std=residual_std)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Return logits [batch, length, vocab] for token ids [batch, length]."""
        length = token_ids.shape[1]
        if length > self.config.context_length:
            raise ValueError(f"input has {length} tokens, more than the context length {self.config.context_length}")
        positions = torch.arange(length, device=token_ids.device)
        x = self.token_embedding(token_ids) + self.position_embedding(positions)
        for block in self.blocks:
            x = block(x)
        x = self.output_norm(x)
        return x @ self.token_embedding.weight.t()


def parameter_count(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())
