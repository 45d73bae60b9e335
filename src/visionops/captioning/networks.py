"""Captioners: a CNN encoder whose spatial grid feeds an LSTM decoder.

- Show and Tell (Vinyals et al. 2015): the image embedding is the LSTM's first input; the grid is mean-pooled.
- Show, Attend and Tell (Xu et al. 2015): soft attention over the grid at every word, with a gate on the context.

Both decoders work one token at a time through `start` and `step`, which are what the ONNX pair exports:
encoder.onnx = trunk + `start` (image -> memory, h, c);
decoder_step.onnx = `step` (token, h, c, memory -> logits, h, c).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from visionops.classifier.trunk import classifier_trunk, scratch_trunk


class ShowTellDecoder(nn.Module):
    def __init__(
        self, *, vocab_size: int, feature_dim: int, grid: int, embed_dim: int, hidden_dim: int, dropout: float, **_: Any
    ) -> None:
        super().__init__()
        # the image vector is a linear map of the whole grid, as a CNN's fully connected layer would be: a mean
        # over the grid would lose where things are, and this captioner has no other way to know
        self.image = nn.Sequential(nn.Linear(feature_dim * grid, embed_dim), nn.LayerNorm(embed_dim))
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_dim, vocab_size)

    def start(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """features [B, L, D] -> (memory, h, c): the image embedding is the LSTM's input before the first word
        (the memory, unused by `step`, is that embedding)."""
        image = self.image(features.flatten(1))[:, None]
        _, (h, c) = self.lstm(image)
        return image, h[0], c[0]

    def step(
        self, token: torch.Tensor, h: torch.Tensor, c: torch.Tensor, memory: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out, (h1, c1) = self.lstm(self.embed(token)[:, None], (h[None], c[None]))
        return self.out(out[:, 0]), h1[0], c1[0]

    def forward(self, features: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, None]:
        """Teacher forcing: logits [B, T, V] for the next word after each of tokens [B, T]."""
        _, h, c = self.start(features)
        out, _ = self.lstm(self.embed(tokens), (h[None], c[None]))
        return self.out(self.drop(out)), None


class AttentionDecoder(nn.Module):
    def __init__(
        self,
        *,
        vocab_size: int,
        feature_dim: int,
        grid: int,
        embed_dim: int,
        hidden_dim: int,
        attention_dim: int,
        dropout: float,
        **_: Any,
    ) -> None:
        super().__init__()
        self.project = nn.Linear(feature_dim, feature_dim)
        # the grid's cells are told apart by a learned position code: relations need to know where a thing is
        self.position = nn.Parameter(torch.randn(grid, feature_dim) * 0.02)
        self.init_h = nn.Linear(feature_dim, hidden_dim)
        self.init_c = nn.Linear(feature_dim, hidden_dim)
        self.att_memory = nn.Linear(feature_dim, attention_dim)
        self.att_hidden = nn.Linear(hidden_dim, attention_dim)
        self.att_score = nn.Linear(attention_dim, 1)
        self.gate = nn.Linear(hidden_dim, feature_dim)
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.cell = nn.LSTMCell(embed_dim + feature_dim, hidden_dim)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_dim + feature_dim, vocab_size)

    def start(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        memory = self.project(features) + self.position
        mean = memory.mean(1)
        return memory, torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean))

    def _attend(self, keys: torch.Tensor, memory: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.att_score(torch.tanh(keys + self.att_hidden(h)[:, None])).squeeze(-1)
        alpha = torch.softmax(scores, dim=1)
        context = torch.sigmoid(self.gate(h)) * (alpha[:, :, None] * memory).sum(1)
        return context, alpha

    def _advance(self, token, h, c, memory, keys):  # noqa: ANN001, ANN202
        context, alpha = self._attend(keys, memory, h)
        h, c = self.cell(torch.cat([self.embed(token), context], dim=1), (h, c))
        return torch.cat([h, context], dim=1), h, c, alpha

    def step(
        self, token: torch.Tensor, h: torch.Tensor, c: torch.Tensor, memory: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, h, c, _ = self.step_with_attention(token, h, c, memory)
        return logits, h, c

    def step_with_attention(
        self, token: torch.Tensor, h: torch.Tensor, c: torch.Tensor, memory: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """`step`, and where it looked: attention weights [B, L] over the grid."""
        out, h, c, alpha = self._advance(token, h, c, memory, self.att_memory(memory))
        return self.out(out), h, c, alpha

    def forward(self, features: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: logits [B, T, V] and attention weights [B, T, L]."""
        memory, h, c = self.start(features)
        keys = self.att_memory(memory)  # once per batch, not once per word
        outs, alphas = [], []
        for t in range(tokens.shape[1]):
            out, h, c, alpha = self._advance(tokens[:, t], h, c, memory, keys)
            outs.append(out)
            alphas.append(alpha)
        return self.out(self.drop(torch.stack(outs, 1))), torch.stack(alphas, 1)


DECODERS = {"show_tell": ShowTellDecoder, "attention": AttentionDecoder}


class Captioner(nn.Module):
    def __init__(self, trunk: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.trunk = trunk
        self.decoder = decoder

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """images [B, C, H, W] in [0, 1] -> the trunk's grid as [B, L, D]."""
        return self.trunk(images).flatten(2).transpose(1, 2)

    def start(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.decoder.start(self.features(images))

    def step(
        self, token: torch.Tensor, h: torch.Tensor, c: torch.Tensor, memory: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.decoder.step(token, h, c, memory)


def build_captioner(spec: dict[str, Any]) -> Captioner:
    """Build from the spec saved with the weights (the trunk's weights are part of the state dict)."""
    if spec["encoder"] == "scratch":
        trunk = scratch_trunk(spec["in_channels"], spec["mean"], spec["std"], spec["scratch_width"])
    else:
        from visionops.classifier.networks import build_network

        trunk = classifier_trunk(build_network(spec["classifier_spec"]))
    decoder = DECODERS[spec["decoder"]](
        vocab_size=len(spec["vocab"]),
        feature_dim=spec["feature_dim"],
        grid=spec["grid"],
        embed_dim=spec["embed_dim"],
        hidden_dim=spec["hidden_dim"],
        attention_dim=spec["attention_dim"],
        dropout=spec["dropout"],
    )
    return Captioner(trunk, decoder)
