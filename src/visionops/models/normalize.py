"""Normalisation as a layer, so models and their ONNX exports take raw pixels in [0, 1]."""

from __future__ import annotations

import torch
from torch import nn


class Normalize(nn.Module):
    def __init__(self, mean: float, std: float) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std
