"""Detection scores (torchmetrics' COCO-style mean average precision, the faster_coco_eval backend): box and mask
mAP@0.5 and mAP@[.5:.95], AP per class, and box AP for small and large items by this project's size split."""

from __future__ import annotations

from typing import Any

import numpy as np

from visionops.detection.runtime import Detections

MASK_THRESHOLD = 0.5  # a mask probability at least this is the item's pixel (Mask R-CNN's own rule)


def _as_torch(found: Detections, masks: bool) -> dict[str, Any]:
    import torch

    out = {
        "boxes": torch.from_numpy(np.ascontiguousarray(found.boxes, np.float32)).reshape(-1, 4),
        "scores": torch.from_numpy(np.ascontiguousarray(found.scores, np.float32)),
        "labels": torch.from_numpy(np.ascontiguousarray(found.labels, np.int64)),
    }
    if masks:
        out["masks"] = torch.from_numpy(found.masks >= MASK_THRESHOLD)
    return out


def _mean_ap(predicted: list[dict], truth: list[dict], iou_types: tuple[str, ...], per_class: bool) -> dict:
    from torchmetrics.detection import MeanAveragePrecision

    metric = MeanAveragePrecision(iou_type=iou_types, class_metrics=per_class, backend="faster_coco_eval")
    metric.update(predicted, truth)
    return metric.compute()


def detection_scores(
    predicted: list[Detections], truth: list[Detections], num_classes: int, *, large_side: int
) -> dict[str, Any]:
    """`truth` holds each scene's items (scores ignored, masks bool or {0,1}); `num_classes` counts the item classes.

    Masks are scored only when both sides have them. Small and large items: see `sized_box_map50`.
    """
    with_masks = all(p.masks is not None for p in predicted) and all(t.masks is not None for t in truth)
    iou_types = ("bbox", "segm") if with_masks else ("bbox",)
    pred = [_as_torch(p, with_masks) for p in predicted]
    true = [_as_torch(t, with_masks) for t in truth]
    result = _mean_ap(pred, true, iou_types, per_class=True)
    prefixes = {"bbox": "box", "segm": "mask"} if with_masks else {"bbox": "box"}
    scores: dict[str, Any] = {}
    for iou, name in prefixes.items():
        key = (lambda k, iou=iou: f"{iou}_{k}") if with_masks else (lambda k: k)
        scores[f"{name}_map50"] = float(result[key("map_50")])
        scores[f"{name}_map"] = float(result[key("map")])
        per_class = dict(zip(result["classes"].tolist(), result[key("map_per_class")].tolist()))
        scores[f"{name}_ap_per_class"] = [float(per_class.get(k, float("nan"))) for k in range(1, num_classes + 1)]

    scores.update(sized_box_map50(predicted, truth, large_side))
    return scores


def scene_truth(split: Any) -> list[Detections]:
    """Each scene's items as Detections (score 1, visible masks), from a ClutteredSplit."""
    out = []
    for i in range(len(split)):
        present = split.labels[i] >= 0
        slots = np.arange(1, len(present) + 1)[present]
        out.append(
            Detections(
                split.boxes[i][present].astype(np.float32),
                split.labels[i][present].astype(np.int64) + 1,
                np.ones(int(present.sum()), np.float32),
                (split.instances[i][None] == slots[:, None, None]).astype(np.float32),
            )
        )
    return out


def sized_box_map50(predicted: list[Detections], truth: list[Detections], large_side: int) -> dict[str, float]:
    """Box AP@0.5 of small and large items: large when the box's area is at least `large_side`^2 px. COCO's own
    area ranges (32^2 and 96^2 px) put every item of a 64 px scene in "small", so this calls faster_coco_eval with
    ranges of its own; as in COCO, an item outside the range is ignored and so is a detection matched to it or,
    unmatched, outside the range itself."""
    from faster_coco_eval import COCO, COCOeval_faster

    def xywh(box: np.ndarray) -> list[float]:
        return [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]

    images = [{"id": i} for i in range(len(truth))]
    labels = sorted({int(k) for t in truth for k in t.labels} | {int(k) for p in predicted for k in p.labels})
    annotations = []
    for i, t in enumerate(truth):
        for k, b in zip(t.labels, t.boxes):
            box = xywh(b)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": int(k),
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
    gt = COCO()
    gt.dataset = {"images": images, "categories": [{"id": k} for k in labels], "annotations": annotations}
    gt.createIndex()
    found = [
        {"image_id": i, "category_id": int(k), "bbox": xywh(b), "score": float(s)}
        for i, p in enumerate(predicted)
        for k, b, s in zip(p.labels, p.boxes, p.scores)
    ]
    out = {"items_small": sum(a["area"] < large_side**2 for a in annotations)}
    out["items_large"] = len(annotations) - out["items_small"]
    if not found or not annotations:
        return {**out, "box_map50_small": float("nan"), "box_map50_large": float("nan")}
    evaluation = COCOeval_faster(gt, gt.loadRes(found), iouType="bbox")
    evaluation.params.areaRng = [[0, 1e10], [0, large_side**2], [large_side**2, 1e10]]
    evaluation.params.areaRngLbl = ["all", "small", "large"]
    evaluation.params.iouThrs = np.array([0.5])
    evaluation.evaluate()
    evaluation.accumulate()
    precision = evaluation.eval["precision"][0, :, :, :, -1]  # [recall, class, area] at IoU 0.5, most detections
    for a, size in ((1, "small"), (2, "large")):
        valid = precision[:, :, a][precision[:, :, a] > -1]
        out[f"box_map50_{size}"] = float(valid.mean()) if valid.size else float("nan")
    return out
