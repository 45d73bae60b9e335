"""The detectors' params sections: `detector` (Mask R-CNN), `rcnn` (the R-CNN baseline) and `detection_evaluation`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from visionops.core.config import Section
from visionops.core.sections import Accelerator, BatchLimit, Seed


class DetectorParams(Section):
    """Mask R-CNN (torchvision's) sized for the canvas; masks: false makes it Faster R-CNN."""

    backbone: Literal["classifier", "scratch"] = "classifier"  # the standard classifier's trunk, or a new one
    width: int = Field(16, ge=1, le=256)  # scratch trunk: channels of its first convolution (then x2, x4)
    masks: bool = True
    box_head: int = Field(256, ge=8, le=4096)  # width of the two-layer box head
    mask_channels: int = Field(64, ge=4, le=512)  # channels of the two mask convolutions
    epochs: int = Field(1, ge=1)
    batch_size: int = Field(8, ge=1)
    lr: float = Field(0.002, gt=0.0, le=1.0)  # peak of the one-cycle schedule (AdamW)
    weight_decay: float = Field(0.0001, ge=0.0)
    limit_train_batches: BatchLimit = 1.0
    accelerator: Accelerator = "auto"  # one device (cpu or one GPU)
    seed: Seed = 0


class RCNNParams(Section):
    """The R-CNN baseline: classical proposals, each warped to 28x28 and scored by the standard classifier."""

    thresholds: list[int] = Field([13, 60, 120], min_length=1)  # grey levels: connected components at each
    min_pixels: int = Field(12, ge=1)  # a smaller component is no proposal
    pad: int = Field(1, ge=0, le=8)  # context around each proposal before warping (R-CNN used 16 of 227 px)
    background_score: float = Field(0.5, ge=0.0, le=1.0)  # below this top softmax score a region is background
    nms_iou: float = Field(0.4, gt=0.0, le=1.0)  # per-class non-maximum suppression


class DetectionEvaluationParams(Section):
    examples: int = Field(8, ge=0, le=64)  # test scenes in the figure of predictions over the truth
    score_thresh: float = Field(0.5, ge=0.0, le=1.0)  # the figure and the CLI show detections above this score
    large_side: int = Field(18, ge=1)  # an item whose box's longer side is at least this is "large"


class DetectionExportParams(Section):
    """How closely the ONNX detector must match torch on the first test scenes and an empty one."""

    parity_scenes: int = Field(50, ge=1)
    parity_box_px: float = Field(0.01, gt=0.0)  # max |box corner difference| in pixels
    parity_score: float = Field(1e-3, gt=0.0)
    parity_mask: float = Field(0.01, gt=0.0)  # mask probabilities
    parity_max_differing: int = Field(0, ge=0)  # scenes allowed a different set of detections
    # the standard classifier's vote in the exported model: score^(1 - w) x its probability of the class^w (0: none)
    classifier_vote: float = Field(0.5, ge=0.0, le=1.0)
