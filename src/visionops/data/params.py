"""The data's params sections: the dataset and its split (`data`), and the composed scenes (`scenes`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from visionops.core.config import Section
from visionops.core.sections import Seed


class DataParams(Section):
    dataset: Literal["fashion_mnist", "mnist", "imagefolder"] = "fashion_mnist"
    image_folder: str | None = None
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    seed: Seed = 0

    @model_validator(mode="after")
    def _folder_for_imagefolder(self) -> DataParams:
        if self.dataset == "imagefolder" and not self.image_folder:
            raise ValueError("data.image_folder must name a folder when data.dataset is imagefolder")
        return self


class SceneParams(Section):
    """The composed-scene dataset: 1..max_objects items on a 2x2 grid of item-sized cells."""

    train: int = Field(20000, ge=10)  # scenes from the training images
    val: int = Field(1000, ge=10)  # from the validation images
    test: int = Field(2000, ge=10)  # from the test images
    heldout: int = Field(1000, ge=10)  # from the test images, each showing a held-out combination
    heldout_combinations: int = Field(8, ge=1, le=100)  # (class, relation, class) facts never seen in training
    max_objects: int = Field(3, ge=1, le=3)
    small_prob: float = Field(0.5, ge=0.0, le=1.0)  # chance an item is drawn small
    small_scale: float = Field(0.72, ge=0.25, le=0.9)  # a small item's side over a large one's (20 of 28 pixels)
    captions_per_scene: int = Field(5, ge=1, le=20)
    size_mention_prob: float = Field(0.5, ge=0.0, le=1.0)  # chance a reference caption states an item's size
    reading_order_prob: float = Field(0.8, ge=0.0, le=1.0)  # chance a reference names the items in reading order
    seed: Seed = 0


class ClutteredSceneParams(Section):
    """The detection and segmentation scenes: items placed freely on a square canvas, at several scales, allowed to
    overlap up to a cap, later items drawn over earlier ones."""

    canvas: int = Field(64, ge=32, le=256, multiple_of=8)  # side in pixels; the segmenters pool three times
    train: int = Field(8000, ge=10)  # scenes from the training images
    val: int = Field(500, ge=10)  # from the validation images
    test: int = Field(1000, ge=10)  # from the test images
    min_items: int = Field(1, ge=1, le=8)
    max_items: int = Field(4, ge=1, le=8)
    min_side: int = Field(14, ge=4)  # an item's 28 px square is drawn at a side in [min_side, max_side]
    max_side: int = Field(28, ge=4)
    max_overlap: float = Field(0.3, ge=0.0, le=0.9)  # of the smaller of two items' boxes
    seed: Seed = 0

    @model_validator(mode="after")
    def _consistent(self) -> ClutteredSceneParams:
        if self.min_items > self.max_items:
            raise ValueError("min_items must be <= max_items")
        if not self.min_side <= self.max_side <= self.canvas:
            raise ValueError("needs min_side <= max_side <= canvas")
        return self


class QuestionParams(Section):
    """The VQA questions over the grid scenes: about `train` (val, test, heldout) balanced questions per split."""

    train: int = Field(120000, ge=6)
    val: int = Field(3000, ge=6)
    test: int = Field(6000, ge=6)
    heldout: int = Field(3000, ge=2)  # relational questions about each held-out scene's held-out combination
    seed: Seed = 0
