"""Networks, each taking raw pixels in [0, 1] (normalisation is the first layer), built from params."""

from __future__ import annotations

from typing import Any

from torch import nn

from visionops.models.lenet import LeNet5
from visionops.models.resnet import ResNet


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
            widths=tuple(spec["resnet_widths"]), blocks=spec["resnet_blocks"], stem_pool=spec["resnet_stem_pool"], **common
        )
    raise ValueError(f"unknown network {kind!r}")


def network_spec(classifier: Any, num_classes: int, in_channels: int, mean: float, std: float) -> dict[str, Any]:
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
