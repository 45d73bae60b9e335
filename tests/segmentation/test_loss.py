"""The segmenters' loss: cross-entropy, plus a soft Dice term that weighs each item class as mIoU does."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from visionops.segmentation.module import cross_entropy_and_dice


def _scene_with_one_item(side: int, cls: int) -> torch.Tensor:
    target = torch.zeros(1, 32, 32, dtype=torch.long)
    target[0, :side, :side] = cls
    return target


def _confident(target: torch.Tensor, classes: int = 11) -> torch.Tensor:
    return F.one_hot(target, classes).permute(0, 3, 1, 2).float() * 20.0


def test_without_dice_it_is_cross_entropy():
    scores, target = torch.randn(2, 11, 8, 8), torch.randint(0, 11, (2, 8, 8))
    torch.testing.assert_close(cross_entropy_and_dice(scores, target, 0.0), F.cross_entropy(scores, target))


def test_a_perfect_map_costs_nothing():
    target = _scene_with_one_item(6, 3)
    assert cross_entropy_and_dice(_confident(target), target, 1.0).item() < 1e-3


def test_a_missed_small_item_costs_the_dice_term_as_much_as_a_missed_large_one():
    """Cross-entropy charges a missed item by its pixels; the Dice term charges each missed class the same."""
    all_background = _confident(torch.zeros(1, 32, 32, dtype=torch.long))
    dice_part = {}
    cross_entropy = {}
    for side in (6, 20):  # 36 pixels (the smallest items here are 14x14 boxes) and 400
        target = _scene_with_one_item(side, 5)
        cross_entropy[side] = F.cross_entropy(all_background, target).item()
        dice_part[side] = cross_entropy_and_dice(all_background, target, 1.0).item() - cross_entropy[side]
    assert cross_entropy[20] > 10 * cross_entropy[6]
    assert abs(dice_part[20] - dice_part[6]) < 0.005 and dice_part[6] > 0.09  # one of ten classes missed: ~1/10
