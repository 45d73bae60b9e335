"""The classifier networks, each taking raw pixels in [0, 1] (normalisation is the first layer), built from a spec.

- LeNet-5 as LeCun et al. (1998) draw it: C1 6@28x28, S2, C3 16@10x10, S4, C5 120, F6 84, 10 outputs.
- A small ResNet for 28x28 images (He et al. 2016 basic blocks): three stages at 28, 14 and 7 pixels,
  or at 14, 7 and 4 with a max-pooled stem (about 3.5x cheaper, for CPU budgets).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Normalize(nn.Module):
    def __init__(self, mean: float, std: float) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


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


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(
        self,
        *,
        widths: tuple[int, int, int] = (32, 64, 128),
        blocks: int = 1,
        stem_pool: bool = False,
        num_classes: int = 10,
        in_channels: int = 1,
        mean: float = 0.0,
        std: float = 1.0,
    ) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)
        )
        if stem_pool:
            self.stem.append(nn.MaxPool2d(2))
        layers, c_in = [], widths[0]
        for stage, width in enumerate(widths):
            for block in range(blocks):
                layers.append(BasicBlock(c_in, width, 2 if stage > 0 and block == 0 else 1))
                c_in = width
        self.stages = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes))

    @property
    def cam_layer(self) -> nn.Module:
        return self.stages[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(self.normalize(x))))


def build_network(spec: dict[str, Any]) -> nn.Module:
    """Build a network from its spec: {'network', 'num_classes', 'in_channels', 'mean', 'std', ...}.

    The spec is saved with the weights, so a model file rebuilds itself without params.yaml.
    """
    kind = spec["network"]
    common = dict(num_classes=spec["num_classes"], in_channels=spec["in_channels"], mean=spec["mean"], std=spec["std"])
    if kind == "lenet5":
        return LeNet5(**common)
    if kind == "resnet":
        return ResNet(
            widths=tuple(spec["resnet_widths"]),
            blocks=spec["resnet_blocks"],
            stem_pool=spec["resnet_stem_pool"],
            **common,
        )
    raise ValueError(f"unknown network {kind!r}")


def network_spec(classifier: Any, *, num_classes: int, in_channels: int, mean: float, std: float) -> dict[str, Any]:
    return {
        "network": classifier.network,
        "resnet_widths": list(classifier.resnet_widths),
        "resnet_blocks": classifier.resnet_blocks,
        "resnet_stem_pool": classifier.resnet_stem_pool,
        "num_classes": num_classes,
        "in_channels": in_channels,
        "mean": mean,
        "std": std,
    }
