"""Mask R-CNN (He et al. 2017; torchvision's implementation) sized for the cluttered scenes, trained from scratch
or from the standard classifier's trunk; without its mask head it is Faster R-CNN (Ren et al. 2015).

Fitted to the canvas: no resizing (torchvision's defaults scale every image to 800 px), one feature map at stride 4
(the trunk's stride-4 stage plus its upsampled stride-8 stage, a two-level FPN folded into one map), anchors of
the items' sizes, and heads a fraction of the default width (a 256-wide box head, two 64-channel mask convolutions).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from visionops.classifier.networks import Normalize

FEATURE_CHANNELS = 64
ANCHOR_SIZES = (10, 16, 24, 32)
ASPECT_RATIOS = (0.5, 1.0, 2.0)


class StrideFourBackbone(nn.Module):
    """An encoder's maps at strides 4 and 8 merged at stride 4: 1x1 projections, the coarse one upsampled."""

    def __init__(self, trunk: nn.Module, widths: tuple[int, int], out_channels: int = FEATURE_CHANNELS) -> None:
        super().__init__()
        self.trunk = trunk
        self.fine = nn.Conv2d(widths[0], out_channels, 1)
        self.coarse = nn.Conv2d(widths[1], out_channels, 1)
        self.smooth = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        stride4, stride8 = self.trunk(x)
        up = nn.functional.interpolate(self.coarse(stride8), size=stride4.shape[-2:], mode="nearest")
        return OrderedDict([("0", self.smooth(self.fine(stride4) + up))])


class ClassifierTrunk(nn.Module):
    """The standard classifier's normalisation, stem and residual stages; returns the stride-4 and stride-8 maps."""

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        from visionops.classifier.networks import ResNet

        if not isinstance(classifier, ResNet) or not isinstance(list(classifier.stem)[-1], nn.MaxPool2d):
            raise ValueError("needs the resnet classifier with its max-pooled stem")
        per_stage = len(classifier.stages) // 3
        self.normalize, self.stem = classifier.normalize, classifier.stem
        self.early = nn.Sequential(*classifier.stages[: 2 * per_stage])
        self.late = nn.Sequential(*classifier.stages[2 * per_stage :])
        self.widths = (
            int(classifier.stages[2 * per_stage - 1].body[-1].num_features),
            int(classifier.stages[-1].body[-1].num_features),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stride4 = self.early(self.stem(self.normalize(x)))
        return stride4, self.late(stride4)


class ScratchTrunk(nn.Module):
    """Conv-BN-ReLU blocks with max-pooling: w at stride 2, 2w at stride 4, 4w at stride 8."""

    def __init__(self, channels: int, width: int, mean: float, std: float) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            )

        self.normalize = Normalize(mean, std)
        self.early = nn.Sequential(block(channels, width), block(width, 2 * width))
        self.late = block(2 * width, 4 * width)
        self.widths = (2 * width, 4 * width)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stride4 = self.early(self.normalize(x))
        return stride4, self.late(stride4)


def detector_spec(
    *,
    channels: int,
    classes: list[str],
    canvas: int,
    masks: bool,
    width: int,
    mean: float,
    std: float,
    box_head: int,
    mask_channels: int,
    classifier_spec: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "network": "detector",
        "channels": channels,
        "classes": classes,
        "canvas": canvas,
        "masks": masks,
        "width": width,
        "mean": mean,
        "std": std,
        "box_head": box_head,
        "mask_channels": mask_channels,
        "classifier_spec": classifier_spec,
    }


def build_detector(spec: dict[str, Any], classifier: nn.Module | None = None, **overrides: Any) -> nn.Module:
    """torchvision's MaskRCNN (or FasterRCNN without masks) of `spec`; `overrides` reach its constructor (score
    threshold, detections per image)."""
    from torchvision.models.detection import FasterRCNN, MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign

    if spec.get("classifier_spec"):
        from visionops.classifier.networks import build_network

        trunk: nn.Module = ClassifierTrunk(classifier or build_network(spec["classifier_spec"]))
    else:
        trunk = ScratchTrunk(spec["channels"], spec["width"], spec["mean"], spec["std"])
    backbone = StrideFourBackbone(trunk, trunk.widths)
    c, k = backbone.out_channels, len(spec["classes"]) + 1
    common = dict(
        min_size=spec["canvas"],
        max_size=spec["canvas"],
        image_mean=[0.0] * spec["channels"],  # the trunk normalises
        image_std=[1.0] * spec["channels"],
        rpn_anchor_generator=AnchorGenerator((ANCHOR_SIZES,), (ASPECT_RATIOS,)),
        rpn_pre_nms_top_n_train=600,
        rpn_pre_nms_top_n_test=300,
        rpn_post_nms_top_n_train=300,
        rpn_post_nms_top_n_test=100,
        rpn_batch_size_per_image=128,
        box_roi_pool=MultiScaleRoIAlign(["0"], output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(c * 7 * 7, spec["box_head"]),
        box_predictor=FastRCNNPredictor(spec["box_head"], k),
        box_batch_size_per_image=128,
        box_detections_per_img=16,
        **overrides,
    )
    if not spec["masks"]:
        return FasterRCNN(backbone, **common)
    m = spec["mask_channels"]
    return MaskRCNN(
        backbone,
        mask_roi_pool=MultiScaleRoIAlign(["0"], output_size=14, sampling_ratio=2),
        mask_head=MaskRCNNHeads(c, [m, m], 1),
        mask_predictor=MaskRCNNPredictor(m, m, k),
        **common,
    )
