"""The two segmenters, each raw pixels [B, C, H, W] in [0, 1] -> per-pixel class scores [B, K, H, W]:

- `deconvnet`, after Noh et al. 2015: an encoder whose max-pooling keeps its indices, then a mirrored decoder
  without skips that unpools at those indices (putting each value back where its maximum was), or doubles the map
  with a transposed convolution where the encoder halved it with a strided one, and densifies each level's map
  with a convolution. The paper's fc6/fc7 come pre-trained with its encoder; here the centre is new, so it is a
  residual branch and each transposed convolution starts as nearest-neighbour upsampling: at the start the
  decoder passes the classifier's features on instead of scrambling them (measured, val mIoU after one epoch:
  0.42 plain, 0.47 with the residual centre, 0.50 with both);
- `fcn`, after Long et al. 2015 (FCN-8s): the same encoder, class scores at strides 8, 4 and 2, each upsampled by
  a learned transposed convolution (bilinear at the start) and summed with the next finer one's.

The encoder is the standard classifier's trunk or a scratch VGG-style one; both segmenters take either, so that
the comparison is about the decoder. H and W must be multiples of 8.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from visionops.classifier.networks import Normalize

LEVELS = 3  # max-pooling steps: scores at strides 2, 4 and 8


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def _stage(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(_conv_block(c_in, c_out), _conv_block(c_out, c_out))


class ScratchEncoder(nn.Module):
    """Three conv stages at widths w, 2w, 4w, each followed by 2x2 max-pooling that keeps its indices."""

    def __init__(self, channels: int, width: int, mean: float, std: float) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.widths = [width * 2**i for i in range(LEVELS)]
        self.stages = nn.ModuleList(_stage(c_in, c_out) for c_in, c_out in zip([channels, *self.widths], self.widths))
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)
        self.pools = [True] * LEVELS

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        """Each stage's pooled map, finest first (strides 2, 4, 8), and each pooling's indices."""
        x = self.normalize(x)
        maps, indices = [], []
        for stage in self.stages:
            x, where = self.pool(stage(x))
            maps.append(x)
            indices.append(where)
        return maps, indices


class ClassifierEncoder(nn.Module):
    """The standard classifier's trunk: its normalisation, its stem (conv, then the max-pool whose indices are
    kept) and its three residual stages, which halve the map with strided convolutions. Maps at strides 2, 4, 8."""

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        from visionops.classifier.networks import ResNet

        stem = list(getattr(classifier, "stem", []))
        if not isinstance(classifier, ResNet) or not isinstance(stem[-1], nn.MaxPool2d):
            raise ValueError("needs the resnet classifier with its max-pooled stem")
        self.normalize = classifier.normalize
        self.stem = nn.Sequential(*stem[:-1])
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)
        per_stage = len(classifier.stages) // LEVELS
        self.stages = nn.ModuleList(
            nn.Sequential(*classifier.stages[i * per_stage : (i + 1) * per_stage]) for i in range(LEVELS)
        )
        self.widths = [int(stage[-1].body[-1].num_features) for stage in self.stages]
        self.pools = [True, False, False]

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        x, where = self.pool(self.stem(self.normalize(x)))
        maps = []
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        return maps, [where, None, None]


class DeconvNet(nn.Module):
    """The encoder, then a mirrored decoder: where the encoder max-pooled, the decoder unpools at the kept indices;
    where it halved the map with a strided convolution, a stride-2 transposed convolution doubles it."""

    def __init__(self, encoder: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        w = encoder.widths
        self.center = _stage(w[-1], w[-1])  # the fc6/fc7 of the paper, as convolutions at the coarsest scale (residual)
        self.unpool = nn.MaxUnpool2d(2, 2)
        self.up = nn.ModuleList(
            nn.Identity() if pools else _nearest_upsampler(w[i]) for i, pools in enumerate(encoder.pools)
        )
        # each decoder level ends at the width of the encoder level above it; the full-resolution one at half the
        # first width (at 64x64 it cost as much as the rest of the decoder together)
        outs = [max(w[0] // 2, 4), *w[:-1]]
        # one deconvolution layer per level (the paper has two or three: the decoder is most of the cost on a CPU).
        # A stride-1 transposed convolution is a convolution with its kernel flipped, the same family of functions;
        # written as one, it takes oneDNN's fast path (measured: ConvTranspose2d's backward was 4x slower here).
        self.decoder = nn.ModuleList(_conv_block(w[i], outs[i]) for i in range(LEVELS))
        self.classify = nn.Conv2d(outs[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps, indices = self.encoder(x)
        y = maps[-1] + self.center(maps[-1])
        for level in reversed(range(LEVELS)):
            where = indices[level]
            if where is not None:
                size = [maps[level].shape[-2] * 2, maps[level].shape[-1] * 2]
                y = self.unpool(y, where, output_size=size)
            else:
                y = self.up[level](y)
            y = self.decoder[level](y)
        return self.classify(y)


def _nearest_upsampler(channels: int) -> nn.ConvTranspose2d:
    """A learnable 2x transposed convolution that starts as nearest-neighbour upsampling, channel by channel."""
    up = nn.ConvTranspose2d(channels, channels, 2, stride=2)
    with torch.no_grad():
        up.weight.zero_()
        up.bias.zero_()
        up.weight[range(channels), range(channels)] = 1.0
    return up


def _bilinear_upsampler(channels: int) -> nn.ConvTranspose2d:
    """A learnable 2x transposed convolution that starts as bilinear interpolation (as FCN initialises it)."""
    up = nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1, bias=False)
    centre = torch.tensor([0.25, 0.75, 0.75, 0.25])
    with torch.no_grad():
        up.weight.zero_()
        for c in range(channels):
            up.weight[c, c] = centre[:, None] * centre[None, :]
    return up


class FCN(nn.Module):
    def __init__(self, encoder: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.scores = nn.ModuleList(nn.Conv2d(c, num_classes, 1) for c in encoder.widths)
        self.upsample = nn.ModuleList(_bilinear_upsampler(num_classes) for _ in range(LEVELS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps, _ = self.encoder(x)
        y = self.scores[-1](maps[-1])
        for level in reversed(range(LEVELS)):
            y = self.upsample[level](y)
            if level > 0:
                y = y + self.scores[level - 1](maps[level - 1])
        return y


def segmenter_spec(
    network: str,
    *,
    channels: int,
    classes: list[str],
    width: int,
    mean: float,
    std: float,
    classifier_spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`classifier_spec` given: the encoder is that classifier's trunk (its weights are then in the state dict);
    else a scratch encoder of `width`, normalising with `mean` and `std`."""
    return {
        "network": "segmenter",
        "kind": network,
        "channels": channels,
        "classes": classes,  # the item classes; the network scores background + these
        "width": width,
        "mean": mean,
        "std": std,
        "classifier_spec": classifier_spec,
    }


def build_segmenter(spec: dict[str, Any], classifier: nn.Module | None = None) -> nn.Module:
    """The segmenter of `spec`; a classifier-trunk encoder takes `classifier`'s modules (its trained weights) when
    given, else a fresh network of the spec's classifier (weights to be loaded)."""
    if spec.get("classifier_spec"):
        from visionops.classifier.networks import build_network

        encoder: nn.Module = ClassifierEncoder(classifier or build_network(spec["classifier_spec"]))
    else:
        encoder = ScratchEncoder(spec["channels"], spec["width"], spec["mean"], spec["std"])
    network = {"deconvnet": DeconvNet, "fcn": FCN}[spec["kind"]](encoder, len(spec["classes"]) + 1)
    network.channels = spec["channels"]
    return network
