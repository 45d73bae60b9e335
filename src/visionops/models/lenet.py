"""LeNet-5 as LeCun et al. (1998) draw it: C1 6@28x28, S2, C3 16@10x10, S4, C5 120, F6 84, 10 outputs."""

from __future__ import annotations

import torch
from torch import nn

from visionops.models.normalize import Normalize


class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, mean: float = 0.0, std: float = 1.0) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2),  # C1: 6@28x28 (the paper pads 28x28 digits to 32x32)
            nn.Tanh(),
            nn.AvgPool2d(2),  # S2: 6@14x14
            nn.Conv2d(6, 16, 5),  # C3: 16@10x10
            nn.Tanh(),
            nn.AvgPool2d(2),  # S4: 16@5x5
            nn.Conv2d(16, 120, 5),  # C5: 120@1x1
            nn.Tanh(),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes))  # F6, out

    @property
    def cam_layer(self) -> nn.Module:
        """The last layer with a spatial map, for Grad-CAM."""
        return self.features[3]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.normalize(x)))
