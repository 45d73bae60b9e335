"""Detection mAP on hand-made cases: a perfect detection, a missed item, a wrong class, a duplicate; the
faster_coco_eval backend against pycocotools; masks; the small/large split."""

from __future__ import annotations

import numpy as np
import pytest

from visionops.detection.metrics import detection_scores, sized_box_map50
from visionops.detection.runtime import Detections


def _dets(boxes, labels, scores=None, size=32, masks=True) -> Detections:
    boxes = np.array(boxes, np.float32).reshape(-1, 4)
    full = np.zeros((len(boxes), size, size), np.float32)
    for k, (x0, y0, x1, y1) in enumerate(boxes.astype(int)):
        full[k, y0:y1, x0:x1] = 1.0
    scores = np.ones(len(boxes), np.float32) if scores is None else np.array(scores, np.float32)
    return Detections(boxes, np.array(labels, np.int64), scores, full if masks else None)


TRUTH = [_dets([[2, 2, 12, 12], [16, 16, 30, 30]], [1, 2]), _dets([[4, 18, 14, 28]], [3])]


def test_a_perfect_detector_scores_one_for_boxes_and_masks():
    scores = detection_scores(TRUTH, TRUTH, 3, large_side=12)
    assert scores["box_map50"] == pytest.approx(1.0) and scores["box_map"] == pytest.approx(1.0)
    assert scores["mask_map50"] == pytest.approx(1.0) and scores["mask_map"] == pytest.approx(1.0)
    assert scores["box_ap_per_class"] == pytest.approx([1.0, 1.0, 1.0])


def test_a_missed_item_costs_its_class_and_a_wrong_class_is_a_miss_and_a_false_positive():
    missed = [TRUTH[0], _dets([], [])]
    scores = detection_scores(missed, TRUTH, 3, large_side=12)
    assert scores["box_ap_per_class"][:2] == pytest.approx([1.0, 1.0]) and scores["box_ap_per_class"][2] == 0.0
    assert scores["box_map50"] == pytest.approx(2 / 3)

    right = _dets([[2, 2, 12, 12], [16, 16, 30, 30]], [1, 2], [0.8, 0.8])
    wrong = [right, _dets([[4, 18, 14, 28]], [1], [0.9])]  # the right box with class 1 instead of 3
    scores = detection_scores(wrong, TRUTH, 3, large_side=12)
    assert scores["box_ap_per_class"][2] == 0.0
    # in class 1, a false positive ranked above the one true detection: precision 1/2 at full recall
    assert scores["box_ap_per_class"][0] == pytest.approx(0.5, abs=0.01)


def test_a_duplicate_is_a_false_positive_that_only_hurts_when_it_outranks_a_true_detection():
    low = [_dets([[2, 2, 12, 12], [2, 2, 12, 12], [16, 16, 30, 30]], [1, 1, 2], [0.9, 0.3, 0.9]), TRUTH[1]]
    assert detection_scores(low, TRUTH, 3, large_side=12)["box_map50"] == pytest.approx(1.0)
    other = _dets([[2, 2, 12, 12]], [1], [0.95])  # a second scene's true item ranked below a duplicate
    truth = [TRUTH[0], other]
    high = [
        _dets([[2, 2, 12, 12], [3, 3, 12, 12], [16, 16, 30, 30]], [1, 1, 2], [0.9, 0.99, 0.9]),
        _dets([[2, 2, 12, 12]], [1], [0.5]),
    ]
    assert detection_scores(high, truth, 3, large_side=12)["box_ap_per_class"][0] < 1.0


def test_the_faster_coco_eval_backend_agrees_with_pycocotools():
    from torchmetrics.detection import MeanAveragePrecision

    rng = np.random.default_rng(0)
    truth, found = [], []
    for _ in range(12):
        corner = rng.uniform(0, 40, (3, 2))
        boxes = np.concatenate([corner, corner + rng.uniform(8, 20, (3, 2))], 1)
        labels = rng.integers(1, 4, 3)
        truth.append({"boxes": boxes, "labels": labels})
        jitter = boxes + rng.normal(0, 1.5, boxes.shape)
        found.append({"boxes": jitter, "labels": np.where(rng.random(3) < 0.8, labels, 1), "scores": rng.random(3)})
    import torch

    def as_torch(d):
        return {k: torch.as_tensor(v, dtype=torch.float32 if k != "labels" else torch.int64) for k, v in d.items()}

    results = {}
    for backend in ("faster_coco_eval", "pycocotools"):
        metric = MeanAveragePrecision(iou_type="bbox", backend=backend)
        metric.update([as_torch(d) for d in found], [as_torch(d) for d in truth])
        results[backend] = metric.compute()
    for key in ("map", "map_50", "map_75"):
        assert float(results["faster_coco_eval"][key]) == pytest.approx(float(results["pycocotools"][key]), abs=1e-6)
    assert 0.2 < float(results["pycocotools"]["map_50"]) < 1.0  # a case with something to disagree on


def test_small_and_large_items_are_scored_apart():
    truth = [_dets([[0, 0, 6, 6], [10, 10, 30, 30]], [1, 1], masks=False)]
    only_large = [_dets([[10, 10, 30, 30]], [1], masks=False)]
    sized = sized_box_map50(only_large, truth, large_side=12)
    assert (sized["items_small"], sized["items_large"]) == (1, 1)
    assert sized["box_map50_large"] == pytest.approx(1.0) and sized["box_map50_small"] == 0.0
