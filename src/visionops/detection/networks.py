"""Mask R-CNN (torchvision's) sized for 64 px scenes: one stride-4 feature map from the standard classifier's
trunk or a scratch one, anchors of 8 to 32 px, a 256-wide box head and two 64-channel mask convolutions.

torchvision's defaults are sized for 800 px photos (a 1024-wide box head, four 256-channel mask convolutions,
resizing every image to 800 px); here they would cost about 15x the compute for nothing. The model does not
resize (min_size = max_size = the canvas) and does not normalise (the trunk's own normalisation does).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from visionops.classifier.networks import Normalize

FEATURE_STRIDE = 4
ANCHOR_SIZES = (8, 12, 16, 22, 30)
ASPECT_RATIOS = (0.5, 1.0, 2.0)


class ClassifierTrunk(nn.Module):
    """The standard classifier's normalisation, stem and residual stages, as one stride-4 map: the stride-4 stage's
    map plus the stride-8 stage's upsampled onto it (one top-down step of a feature pyramid), so that each region's
    features carry the classifier's last, most semantic stage as well as stride-4 detail."""

    def __init__(self, classifier: nn.Module, *, freeze_stem: bool = True) -> None:
        super().__init__()
        from visionops.classifier.networks import ResNet

        if not isinstance(classifier, ResNet) or not isinstance(list(classifier.stem)[-1], nn.MaxPool2d):
            raise ValueError("needs the resnet classifier with its max-pooled stem")
        per_stage = len(classifier.stages) // 3
        self.normalize = classifier.normalize
        self.stem = classifier.stem
        self.fine = nn.Sequential(*classifier.stages[: 2 * per_stage])  # strides 2 and 4
        self.coarse = nn.Sequential(*classifier.stages[2 * per_stage :])  # stride 8
        fine_width = int(self.fine[-1].body[-1].num_features)
        coarse_width = int(self.coarse[-1].body[-1].num_features)
        self.out_channels = fine_width
        self.lateral = nn.Conv2d(coarse_width, fine_width, 1)
        if freeze_stem:  # edges and strokes serve as they are; it saves the stem's backward pass
            for p in self.stem.parameters():
                p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine = self.fine(self.stem(self.normalize(x)))
        coarse = self.lateral(self.coarse(fine))
        return fine + nn.functional.interpolate(coarse, size=fine.shape[-2:], mode="nearest")


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class ScratchTrunk(nn.Module):
    """Four convolutions, two of stride 2: a stride-4 map of 4w channels."""

    def __init__(self, channels: int, width: int, mean: float, std: float) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.body = nn.Sequential(
            _conv(channels, width),
            _conv(width, 2 * width, 2),
            _conv(2 * width, 4 * width, 2),
            _conv(4 * width, 4 * width),
        )
        self.out_channels = 4 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.normalize(x))


def detector_spec(
    *,
    backbone: str,
    channels: int,
    canvas: int,
    classes: list[str],
    width: int,
    mean: float,
    std: float,
    box_head: int,
    mask_channels: int,
    masks: bool,
    classifier_spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything `build_detector` needs, saved with the weights."""
    return {
        "network": "detector",
        "architecture": "maskrcnn" if masks else "fasterrcnn",
        "backbone": backbone,
        "channels": channels,
        "canvas": canvas,
        "classes": classes,
        "width": width,
        "mean": mean,
        "std": std,
        "box_head": box_head,
        "mask_channels": mask_channels,
        "masks": masks,
        "classifier_spec": classifier_spec,
    }


def build_detector(spec: dict[str, Any], classifier: nn.Module | None = None) -> nn.Module:
    """torchvision's MaskRCNN (or FasterRCNN without masks) for the spec; `classifier` supplies the trunk's start
    weights for backbone: classifier (without it, the trunk is built untrained, to be loaded from a state dict)."""
    from torchvision.models.detection import FasterRCNN, MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign

    if spec["backbone"] == "classifier":
        if classifier is None:
            from visionops.classifier.networks import build_network

            classifier = build_network(spec["classifier_spec"])
        trunk: nn.Module = ClassifierTrunk(classifier)
    else:
        trunk = ScratchTrunk(spec["channels"], spec["width"], spec["mean"], spec["std"])
    c = trunk.out_channels
    num_classes = len(spec["classes"]) + 1
    canvas = spec["canvas"]
    common: dict[str, Any] = dict(
        min_size=canvas,
        max_size=canvas,
        image_mean=[0.0] * spec["channels"],
        image_std=[1.0] * spec["channels"],
        rpn_anchor_generator=AnchorGenerator((ANCHOR_SIZES,), (ASPECT_RATIOS,)),
        rpn_pre_nms_top_n_train=300,
        rpn_post_nms_top_n_train=100,
        rpn_pre_nms_top_n_test=150,
        rpn_post_nms_top_n_test=50,
        rpn_batch_size_per_image=64,
        box_roi_pool=MultiScaleRoIAlign(["0"], 7, sampling_ratio=2),
        box_head=TwoMLPHead(c * 7 * 7, spec["box_head"]),
        box_predictor=FastRCNNPredictor(spec["box_head"], num_classes),
        box_batch_size_per_image=32,  # at most four items per scene: 32 sampled RoIs are plenty (512 by default)
        box_detections_per_img=12,
        box_score_thresh=0.05,
    )
    if not spec["masks"]:
        return FasterRCNN(trunk, **common)
    m = spec["mask_channels"]
    return MaskRCNN(
        trunk,
        mask_roi_pool=MultiScaleRoIAlign(["0"], 14, sampling_ratio=2),
        mask_head=MaskRCNNHeads(c, [m, m], 1),
        mask_predictor=MaskRCNNPredictor(m, m, num_classes),
        **common,
    )
