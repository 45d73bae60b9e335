"""Segmentation scores from class maps (torchmetrics): IoU per class, mIoU over the item classes, pixel accuracy."""

from __future__ import annotations

import numpy as np


def segmentation_scores(predicted: np.ndarray, truth: np.ndarray, num_classes: int) -> dict[str, float | list[float]]:
    """`predicted` and `truth` are class maps [N, H, W] (0 background, class + 1); `num_classes` counts background.

    mIoU is the mean over the item classes only: background is most of every scene, and its IoU near 1 would hide
    the items. A class absent from both maps has no IoU (NaN in the list) and is left out of the mean.
    """
    import torch
    from torchmetrics.functional.classification import multiclass_confusion_matrix

    confusion = multiclass_confusion_matrix(
        torch.from_numpy(predicted.astype(np.int64)).reshape(-1),
        torch.from_numpy(truth.astype(np.int64)).reshape(-1),
        num_classes,
    ).double()
    hits = confusion.diag()
    union = confusion.sum(0) + confusion.sum(1) - hits
    iou = torch.where(union > 0, hits / union.clamp(min=1), torch.nan)
    items = iou[1:]
    return {
        "miou": float(items[~items.isnan()].mean()) if (~items.isnan()).any() else float("nan"),
        "iou_per_class": [float(v) for v in items],
        "background_iou": float(iou[0]),
        "pixel_accuracy": float(hits.sum() / confusion.sum()),
    }
