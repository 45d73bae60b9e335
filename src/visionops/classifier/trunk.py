"""Image trunks for the families that read scenes through a CNN: the standard classifier without its head, or a small
CNN trained from scratch; the grid they produce, and one pass of frozen layers over a split."""

from __future__ import annotations

import torch
from torch import nn

from visionops.classifier.networks import Normalize


def scratch_trunk(in_channels: int, mean: float, std: float, width: int = 32) -> nn.Sequential:
    """A small CNN trained with the model that reads it: three conv-BN-ReLU-pool blocks (56 -> 7 pixels)."""
    layers: list[nn.Module] = [Normalize(mean, std)]
    c_in = in_channels
    for c_out in (width, 2 * width, 4 * width):
        layers += [
            nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        ]
        c_in = c_out
    return nn.Sequential(*layers)


def classifier_trunk(classifier: nn.Module) -> nn.Sequential:
    """The classifier without its pooling head, one layer per residual block (so the last few can be fine-tuned):
    fully convolutional, so it takes the larger canvas."""
    from visionops.classifier.networks import ResNet

    if not isinstance(classifier, ResNet):
        raise TypeError("the classifier encoder needs the resnet classifier (classifier.network: resnet)")
    return nn.Sequential(classifier.normalize, classifier.stem, *classifier.stages)


def trunk_shape(trunk: nn.Module, image_shape: tuple[int, ...]) -> tuple[int, int]:
    """(feature_dim, grid cells) of the trunk's output for one image."""
    with torch.no_grad():
        out = trunk.eval()(torch.zeros(1, *image_shape))
    return int(out.shape[1]), int(out.shape[2] * out.shape[3])


def run_frozen(layers: nn.Module, images: torch.Tensor, batch_size: int = 500, bf16: bool = False) -> torch.Tensor:
    """One pass of the frozen layers over uint8 images [N, C, H, W]: their output maps, float32, same device.

    `bf16`: compute them in bf16 autocast, as the training that reads them does."""
    layers.eval()
    out = []
    with torch.no_grad(), torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(images), batch_size):
            pixels = (images[i : i + batch_size].float() / 255.0).contiguous(memory_format=torch.channels_last)
            out.append(layers(pixels).float())
    return torch.cat(out).contiguous(memory_format=torch.channels_last) if out else torch.zeros(0)
