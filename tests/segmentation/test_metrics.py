"""Segmentation scores on hand-made maps: IoU per class, mIoU over the item classes only, pixel accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from visionops.segmentation.metrics import segmentation_scores


def test_a_perfect_map_scores_one_and_absent_classes_are_left_out():
    truth = np.zeros((1, 8, 8), np.uint8)
    truth[0, :4, :4] = 1
    truth[0, 4:, 4:] = 3
    scores = segmentation_scores(truth.copy(), truth, num_classes=4)
    assert scores["miou"] == 1.0 and scores["pixel_accuracy"] == 1.0
    assert scores["iou_per_class"][0] == 1.0 and math.isnan(scores["iou_per_class"][1])  # class 2 is nowhere


def test_iou_counts_misses_and_false_alarms_and_background_stays_out_of_the_mean():
    truth = np.zeros((1, 4, 4), np.uint8)
    truth[0, 0, :] = 1  # 4 pixels of class 1
    predicted = np.zeros_like(truth)
    predicted[0, 0, :2] = 1  # 2 hits, 2 misses
    predicted[0, 1, :2] = 1  # 2 false alarms on background
    predicted[0, 3, 3] = 2  # class 2 predicted where there is none: IoU 0
    scores = segmentation_scores(predicted, truth, num_classes=3)
    assert scores["iou_per_class"] == pytest.approx([2 / 6, 0.0])
    assert scores["miou"] == pytest.approx((2 / 6 + 0.0) / 2)
    assert scores["background_iou"] == pytest.approx(9 / 14)  # 12 true background, 9 kept, 3 + 2 lost
    assert scores["pixel_accuracy"] == pytest.approx(11 / 16)
