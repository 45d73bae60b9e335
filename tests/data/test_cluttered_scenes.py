"""Cluttered scenes: deterministic under the seed, each split from its own items, masks exactly the visible pixels,
boxes tight around them, later items drawn over earlier ones, overlaps within the cap."""

from __future__ import annotations

import numpy as np

from visionops.data.scenes.cluttered import compose_cluttered


def _items(value: int, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """n item images: a filled square of brightness `value` inside a black margin, classes cycling 0..9."""
    items = np.zeros((n, 1, 28, 28), np.uint8)
    items[:, :, 4:24, 6:22] = value
    return items, np.arange(n) % 10


def _compose(items: np.ndarray, labels: np.ndarray, n: int, seed: int, **overrides):
    settings = dict(canvas=64, min_items=1, max_items=4, min_side=14, max_side=28, max_overlap=0.3)
    settings.update(overrides)
    return compose_cluttered(n, items=items, item_labels=labels, rng=np.random.default_rng(seed), **settings)


def test_scenes_are_deterministic_under_the_seed():
    items, labels = _items(200)
    items = items + np.random.default_rng(1).integers(0, 40, items.shape).astype(np.uint8)
    first, again, other = _compose(items, labels, 50, 3), _compose(items, labels, 50, 3), _compose(items, labels, 50, 4)
    for name in ("images", "instances", "labels", "boxes", "sides"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(first.images, other.images)


def test_each_split_shows_only_its_own_items():
    train = _compose(np.full((30, 1, 28, 28), 100, np.uint8), np.arange(30) % 10, 100, 0)
    test = _compose(np.full((30, 1, 28, 28), 200, np.uint8), np.arange(30) % 10, 100, 1)
    assert set(np.unique(train.images)) <= {0, 100} and 100 in train.images
    assert set(np.unique(test.images)) <= {0, 200} and 200 in test.images


def test_masks_are_the_visible_pixels_and_boxes_are_tight_around_them():
    split = _compose(*_items(255), 300, 5)
    present = split.labels >= 0
    counts = present.sum(1)
    assert counts.min() >= 1 and counts.max() == 4
    assert (present[:, :-1] | ~present[:, 1:]).all()  # present slots come first
    masks = split.masks()
    assert ((split.instances > 0) == (split.images[:, 0] > 0)).all()  # every lit pixel is some item's, and only those
    assert not masks[~present].any()
    class_map = split.class_map()
    for n, k in zip(*np.nonzero(present)):
        ys, xs = np.nonzero(masks[n, k])
        assert len(ys) > 0
        assert list(split.boxes[n, k]) == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        assert (class_map[n][masks[n, k]] == split.labels[n, k] + 1).all()
        assert 14 <= split.sides[n, k] <= 28
    assert (split.boxes[~present] == -1).all()
    assert (class_map[split.instances == 0] == 0).all()


def test_later_items_cover_earlier_ones_and_overlap_stays_within_the_cap():
    items = np.full((10, 1, 28, 28), 255, np.uint8)  # full squares: an item's tight box is its whole drawn square
    split = _compose(items, np.arange(10), 400, 7, min_items=2, max_items=2, max_overlap=0.3)
    assert (split.labels >= 0).all()
    masks = split.masks()
    area = masks.sum(axis=(2, 3))
    sides = split.sides.astype(np.int64)
    assert (area[:, 1] == sides[:, 1] ** 2).all()  # the later item is whole
    clipped = area[:, 0] < sides[:, 0] ** 2
    assert clipped.any()  # overlaps happen, and the later item wins them ...
    for a, b in zip(split.boxes[:, 0], split.boxes[:, 1]):
        assert _overlap_of_smaller(a, b) <= 0.3  # ... within the cap


def _overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return iw * ih / smaller
