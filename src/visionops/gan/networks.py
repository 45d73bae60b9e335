"""GAN networks for 28x28 images: a DCGAN generator and discriminator (Radford et al. 2016), and their
class-conditional variants (label embedding in G, projection discriminator with spectral norm: Miyato & Koyama 2018).

The generator ends in pixels in [0, 1], like the data and the classifier's input, so its ONNX export is
noise (+ label) -> image, ready to show or to classify.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class Generator(nn.Module):
    """z [B, latent] (+ label [B]) -> 7x7 -> 14x14 -> 28x28 pixels in [0, 1]."""

    def __init__(self, latent_dim: int, width: int, num_classes: int = 0, out_channels: int = 1) -> None:
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None
        self.project = nn.Sequential(
            nn.Linear(latent_dim * (2 if num_classes else 1), 2 * width * 7 * 7, bias=False),
            nn.Unflatten(1, (2 * width, 7, 7)),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(inplace=True),
        )
        self.body = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(width // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(width // 2, out_channels, 3, 1, 1),  # a layer at full resolution, for texture
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if labels is None:
                raise ValueError("a conditional generator needs labels")
            z = torch.cat([z, self.embed(labels)], dim=1)
        return (torch.tanh(self.body(self.project(z))) + 1) / 2


class Discriminator(nn.Module):
    """28x28 pixels in [0, 1] (+ label) -> one logit per image.

    Conditional: the projection discriminator, logit = psi(phi(x)) + <embed(y), phi(x)>.
    """

    def __init__(
        self,
        width: int,
        num_classes: int = 0,
        in_channels: int = 1,
        *,
        use_spectral_norm: bool = False,
        minibatch_std: bool = False,
    ) -> None:
        super().__init__()
        self.minibatch_std = minibatch_std
        sn = spectral_norm if use_spectral_norm else (lambda layer: layer)
        # DCGAN's batch norm in D; spectral norm replaces it (it normalises the layers, not the batch)
        norm = (lambda c: nn.Identity()) if use_spectral_norm else nn.BatchNorm2d
        self.features = nn.Sequential(
            sn(nn.Conv2d(in_channels, width, 4, 2, 1)),
            nn.LeakyReLU(0.2, inplace=True),
            sn(nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False)),
            norm(2 * width),
            nn.LeakyReLU(0.2, inplace=True),
            sn(nn.Conv2d(2 * width, 4 * width, 3, 2, 1, bias=False)),
            norm(4 * width),
            nn.LeakyReLU(0.2, inplace=True),
        )
        feature_dim = (4 * width + int(minibatch_std)) * 4 * 4
        self.head = sn(nn.Linear(feature_dim, 1))
        self.embed = sn(nn.Embedding(num_classes, feature_dim)) if num_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        phi = self.features(x * 2 - 1)
        if self.minibatch_std:
            # Karras et al. 2018: how much the batch varies, as one more feature map, lets D see a collapsed G
            spread = phi.std(dim=0, unbiased=False).mean().expand(phi.shape[0], 1, *phi.shape[2:])
            phi = torch.cat([phi, spread], dim=1)
        phi = phi.flatten(1)
        logit = self.head(phi).squeeze(1)
        if self.embed is not None:
            if labels is None:
                raise ValueError("a conditional discriminator needs labels")
            logit = logit + (self.embed(labels) * phi).sum(dim=1)
        return logit


def gan_spec(params: Any, num_classes: int, in_channels: int) -> dict[str, Any]:
    """What rebuilds the generator without params.yaml; saved beside its weights."""
    return {
        "network": "gan_generator",
        "latent_dim": params.latent_dim,
        "width": params.width,
        "num_classes": num_classes if params.conditional else 0,
        "in_channels": in_channels,
    }


def build_generator(spec: dict[str, Any]) -> Generator:
    return Generator(spec["latent_dim"], spec["width"], spec["num_classes"], spec["in_channels"])


def build_discriminator(spec: dict[str, Any], params: Any) -> Discriminator:
    return Discriminator(
        params.width,
        spec["num_classes"],
        spec["in_channels"],
        use_spectral_norm=params.spectral_norm,
        minibatch_std=params.minibatch_std,
    )
