"""The R-CNN baseline (Girshick et al. 2014) on the scenes: classical class-agnostic proposals, each region warped
to the classifier's 28x28 input and scored by the standard classifier (through onnxruntime), a background decision,
then per-class non-maximum suppression. Nothing is trained.

The proposer is connected components of the scene thresholded at a few grey levels, not selective search: on a
black canvas a lit component is exactly what selective search's first grouping finds, at a fraction of the cost,
and the failure both share is the lesson: touching items merge into one region, which no later stage can split.
"""

from __future__ import annotations

import numpy as np
import torch

from visionops.detection.params import RCNNParams
from visionops.detection.runtime import Detections
from visionops.detection.warp import warp_boxes


def propose(scene: np.ndarray, thresholds: list[int], min_pixels: int) -> np.ndarray:
    """Boxes [m, 4] float32 (x0, y0, x1, y1, end exclusive) of the components of one grey scene [H, W] uint8 above
    each threshold, duplicates removed."""
    from scipy import ndimage

    boxes = set()
    for level in thresholds:
        components, count = ndimage.label(scene >= level)
        if not count:
            continue
        sizes = np.bincount(components.ravel())[1:]
        for k, where in enumerate(ndimage.find_objects(components)):
            if where is not None and sizes[k] >= min_pixels:
                rows, cols = where
                boxes.add((cols.start, rows.start, cols.stop, rows.stop))
    return np.array(sorted(boxes), np.float32).reshape(-1, 4)


def warp_regions(scene: np.ndarray, boxes: np.ndarray, pad: int) -> torch.Tensor:
    """Each box as the classifier sees an item (`warp_boxes`) in one grey scene [H, W] uint8. [m, 1, 28, 28]
    float32 in [0, 1]."""
    image = torch.from_numpy(scene).float().div_(255.0)[None, None]
    return warp_boxes(image, torch.from_numpy(boxes), pad)


def rcnn_detect(sess: onnxruntime.InferenceSession, scene: np.ndarray, params: RCNNParams) -> Detections:  # noqa: F821
    """One grey scene [H, W] uint8 -> its detections (labels are class + 1; no masks)."""
    from torchvision.ops import batched_nms

    from visionops.classifier.predict import predict_logits
    from visionops.core.ort import softmax

    boxes = propose(scene, params.thresholds, params.min_pixels)
    if not len(boxes):
        return Detections(boxes, np.zeros(0, np.int64), np.zeros(0, np.float32), None)
    probs = softmax(predict_logits(sess, warp_regions(scene, boxes, params.pad).numpy()))
    labels, scores = probs.argmax(1), probs.max(1)
    keep = scores >= params.background_score
    boxes, labels, scores = boxes[keep], labels[keep], scores[keep].astype(np.float32)
    kept = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(labels), params.nms_iou)
    kept = kept.numpy()
    return Detections(boxes[kept], labels[kept].astype(np.int64) + 1, scores[kept], None)
