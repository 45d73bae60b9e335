"""The segmenters' params sections: `segmenter` (the deconvolution network), its variant `fcn_segmenter`,
`segmentation_export` and `segmentation_evaluation`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from visionops.core.config import Section
from visionops.core.sections import Accelerator, BatchLimit, Seed

VARIANTS = {"fcn_segmenter": "segmenter"}


class SegmenterParams(Section):
    """One segmenter: `segmenter` is the deconvolution network; `fcn_segmenter` lists what differs."""

    network: Literal["deconvnet", "fcn"] = "deconvnet"
    encoder: Literal["classifier", "scratch"] = "classifier"  # the standard classifier's trunk, or a new one
    width: int = Field(16, ge=1, le=512)  # scratch encoder: channels of its first stage (then x2, x4)
    epochs: int = Field(2, ge=1)
    batch_size: int = Field(32, ge=2)
    lr: float = Field(0.003, gt=0.0, le=1.0)  # peak of the one-cycle schedule (AdamW)
    weight_decay: float = Field(0.0001, ge=0.0)
    flip: bool = True  # random horizontal flips of each training scene with its map
    dice_weight: float = Field(0.0, ge=0.0, le=100.0)  # of the soft Dice term over the item classes; 0: cross-entropy
    limit_train_batches: BatchLimit = 1.0
    accelerator: Accelerator = "auto"  # a segmenter trains on one device (cpu or one GPU)
    precision: Literal["auto", "32-true", "bf16-mixed", "16-mixed"] = "auto"
    seed: Seed = 0


class SegmentationEvaluationParams(Section):
    examples: int = Field(8, ge=0, le=64)  # test scenes in the figure of maps beside the truth
    batch_size: int = Field(250, ge=1)


class SegmentationExportParams(Section):
    # the exported segmenter averages its class probabilities over the scene and its mirror image (test-time
    # augmentation: the segmenters trained on flipped scenes too); false: one pass, raw scores
    mirror_average: bool = True
