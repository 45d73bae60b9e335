"""Compose scenes from single-item images, all of a split at once (numpy; the only per-scene Python is the captions).

The canvas is a 2x2 grid of item-sized cells (56x56 for 28x28 items). A large item fills its cell, a small one
(area-averaged down to `small_side`, 20 of 28 pixels by default) sits at a random offset inside it. The grid
keeps every relation exact: two items in different columns are left/right of each other, in different rows
above/below, and a diagonal pair both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from visionops.data.scenes.grammar import SIZES, SceneObject, realise, relations_between

SCENE_MANIFEST_FILE = "manifest.json"  # beside the split files: counts, classes, held-out combinations, SHA-256
CELLS = 4  # the 2x2 grid
MASK_THRESHOLD = 13  # an item pixel at or above this (5% of 255) belongs to the item's mask


@dataclass(frozen=True)
class Combination:
    """A (class, relation, class) fact, e.g. sneaker left of bag; `axis` 0 is left-of, 1 is above."""

    first: int
    axis: int
    second: int

    def text(self, classes: list[str]) -> str:
        return f"{classes[self.first]} {('left of', 'above')[self.axis]} {classes[self.second]}"


def choose_heldout(n_classes: int, count: int, seed: int) -> list[Combination]:
    """`count` distinct combinations seen only in the held-out split (neither they nor their inverse in training);
    at most a third of all, so that training still sees most pairs."""
    rng = np.random.default_rng([seed, 7])
    every = [Combination(a, axis, b) for a in range(n_classes) for b in range(n_classes) if a != b for axis in (0, 1)]
    picked = rng.choice(len(every), size=min(count, len(every) // 3), replace=False)  # few classes: fewer combinations
    return [every[i] for i in sorted(picked)]


@dataclass
class Layouts:
    """N scene layouts; slots past a scene's count hold -1."""

    labels: np.ndarray  # [N, K] class of each item
    sizes: np.ndarray  # [N, K] 0 small, 1 large
    cells: np.ndarray  # [N, K] cell 0..3 (row = cell // 2, col = cell % 2)
    items: np.ndarray  # [N, K] index of the source image
    offsets: np.ndarray  # [N, K, 2] (dy, dx) of a small item inside its cell

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, keep: np.ndarray) -> Layouts:
        return Layouts(*(a[keep] for a in (self.labels, self.sizes, self.cells, self.items, self.offsets)))

    def objects(self, n: int) -> list[SceneObject]:
        return [
            SceneObject(int(lab), int(size), int(cell) // 2, int(cell) % 2)
            for lab, size, cell in zip(self.labels[n], self.sizes[n], self.cells[n])
            if lab >= 0
        ]


def area_matrix(n_out: int, n_in: int) -> np.ndarray:
    """[n_out, n_in] weights that average each output pixel over the input pixels it covers (area resampling)."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    cells = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, cells + 1) - np.maximum(lo, cells), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def sample_layouts(
    n: int,
    *,
    item_labels: np.ndarray,
    n_classes: int,
    max_objects: int,
    small_prob: float,
    side: int,
    small_side: int,
    rng: np.random.Generator,
) -> Layouts:
    per_class = np.bincount(item_labels, minlength=n_classes)
    available = np.nonzero(per_class)[0]  # a small split may lack a class
    if len(available) < max_objects:
        raise ValueError(f"{max_objects} items per scene need as many classes; the split has {len(available)}")
    counts = rng.integers(1, max_objects + 1, size=n)
    present = np.arange(max_objects)[None, :] < counts[:, None]
    cells = np.argsort(rng.random((n, CELLS)), axis=1)[:, :max_objects]
    labels = available[np.argsort(rng.random((n, len(available))), axis=1)[:, :max_objects]]  # distinct per scene
    sizes = (rng.random((n, max_objects)) >= small_prob).astype(np.int64)
    by_class = np.argsort(item_labels, kind="stable")
    start = np.concatenate([[0], np.cumsum(per_class)[:-1]])
    items = by_class[start[labels] + (rng.random((n, max_objects)) * per_class[labels]).astype(np.int64)]
    offsets = rng.integers(0, side - small_side + 1, size=(n, max_objects, 2))
    blank = ~present
    labels[blank], sizes[blank], cells[blank], items[blank] = -1, -1, -1, -1
    return Layouts(labels, sizes, cells, items, offsets)


def combination_facts(layouts: Layouts, n_classes: int) -> np.ndarray:
    """[N, K, K] id of the fact `item i <axis> item j` (a * 2 + axis) * C + b, or -1; both axes of a diagonal pair
    are facts, so one array per axis is stacked: [2, N, K, K]."""
    lab, cell = layouts.labels, layouts.cells
    row, col = cell // 2, cell % 2
    both = (lab[:, :, None] >= 0) & (lab[:, None, :] >= 0)
    out = []
    for axis, (pos_a, pos_b) in enumerate(((col[:, :, None], col[:, None, :]), (row[:, :, None], row[:, None, :]))):
        holds = both & (pos_a < pos_b)
        fact = (lab[:, :, None] * 2 + axis) * n_classes + lab[:, None, :]
        out.append(np.where(holds, fact, -1))
    return np.stack(out)


def has_combination(layouts: Layouts, combos: list[Combination], n_classes: int) -> np.ndarray:
    ids = np.array([(c.first * 2 + c.axis) * n_classes + c.second for c in combos] or [-2])
    facts = combination_facts(layouts, n_classes)
    return np.isin(facts, ids).any(axis=(0, 2, 3))


def sample_split(
    n: int,
    *,
    item_labels: np.ndarray,
    n_classes: int,
    combos: list[Combination],
    heldout: bool,
    max_objects: int,
    small_prob: float,
    side: int,
    small_side: int,
    rng: np.random.Generator,
) -> Layouts:
    """N layouts that avoid every held-out combination, or (heldout=True) that each show at least one."""
    parts, have = [], 0
    while have < n:
        batch = sample_layouts(
            max(4 * (n - have), 256),
            item_labels=item_labels,
            n_classes=n_classes,
            max_objects=max_objects,
            small_prob=small_prob,
            side=side,
            small_side=small_side,
            rng=rng,
        )
        hit = has_combination(batch, combos, n_classes)
        keep = batch.take(hit if heldout else ~hit)
        parts.append(keep)
        have += len(keep)
    joined = Layouts(*(np.concatenate([getattr(p, f) for p in parts]) for f in Layouts.__dataclass_fields__))
    return joined.take(np.arange(n))


def render(layouts: Layouts, items: np.ndarray, small_side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images [N, C, 2H, 2W] uint8, class masks [N, 2H, 2W] uint8 (0 background, class + 1) and tight boxes
    [N, K, 4] int16 (x0, y0, x1, y1; end exclusive; -1 for an empty slot)."""
    n, k = layouts.labels.shape
    c, h, w = items.shape[1:]
    images = np.zeros((n, 2 * h, 2 * w, c), np.uint8)
    masks = np.zeros((n, 2 * h, 2 * w), np.uint8)
    boxes = np.full((n, k, 4), -1, np.int16)
    src = items.transpose(0, 2, 3, 1)  # NHWC, so one fancy index places a whole patch
    for slot in range(k):
        for size in (0, 1):
            scenes = np.nonzero(layouts.sizes[:, slot] == size)[0]
            if not len(scenes):
                continue
            patch = src[layouts.items[scenes, slot]]
            if size == 0:  # small: area-averaged, rounded
                rows_w, cols_w = area_matrix(small_side, h), area_matrix(small_side, w)
                patch = np.einsum("yh,nhwc,xw->nyxc", rows_w, patch.astype(np.float64), cols_w)
                patch = np.rint(patch).clip(0, 255).astype(np.uint8)
                dy, dx = layouts.offsets[scenes, slot, 0], layouts.offsets[scenes, slot, 1]
            else:
                dy = dx = np.zeros(len(scenes), np.int64)
            cell = layouts.cells[scenes, slot]
            top, left = (cell // 2) * h + dy, (cell % 2) * w + dx
            ph, pw = patch.shape[1:3]
            rows = top[:, None] + np.arange(ph)[None, :]
            cols = left[:, None] + np.arange(pw)[None, :]
            idx = scenes[:, None, None], rows[:, :, None], cols[:, None, :]
            images[idx] = patch
            on = patch.max(axis=3) >= MASK_THRESHOLD
            masks[idx] = np.where(on, layouts.labels[scenes, slot][:, None, None] + 1, masks[idx])
            any_row, any_col = on.any(axis=2), on.any(axis=1)
            empty = ~any_row.any(axis=1)
            y0 = np.where(empty, 0, any_row.argmax(axis=1))
            y1 = np.where(empty, ph, ph - any_row[:, ::-1].argmax(axis=1))
            x0 = np.where(empty, 0, any_col.argmax(axis=1))
            x1 = np.where(empty, pw, pw - any_col[:, ::-1].argmax(axis=1))
            boxes[scenes, slot] = np.stack([left + x0, top + y0, left + x1, top + y1], axis=1)
    return images.transpose(0, 3, 1, 2).copy(), masks, boxes


def describe(
    layouts: Layouts,
    boxes: np.ndarray,
    *,
    classes: list[str],
    captions_per_scene: int,
    size_prob: float,
    reading_order_prob: float,
    rng: np.random.Generator,
) -> list[dict]:
    """The structured description and the reference captions of each scene."""
    out = []
    for n in range(len(layouts)):
        objects = layouts.objects(n)
        relations = [
            [i, rel, j]
            for i, a in enumerate(objects)
            for j, b in enumerate(objects)
            if i != j
            for rel in relations_between(a, b)
        ]
        out.append(
            {
                "objects": [
                    {
                        "class": classes[o.label],
                        "size": SIZES[o.size],
                        "row": o.row,
                        "col": o.col,
                        "box": [int(v) for v in boxes[n, i]],
                    }
                    for i, o in enumerate(objects)
                ],
                "relations": relations,
                "captions": [
                    realise(objects, classes, rng=rng, size_prob=size_prob, reading_order_prob=reading_order_prob)
                    for _ in range(captions_per_scene)
                ],
            }
        )
    return out


def objects_of(description: dict, classes: list[str]) -> list[SceneObject]:
    return [
        SceneObject(classes.index(o["class"]), SIZES.index(o["size"]), o["row"], o["col"])
        for o in description["objects"]
    ]


@dataclass
class SceneSplit:
    images: np.ndarray  # [N, C, H, W] uint8
    masks: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    descriptions: list[dict]


def write_split(folder: Path, name: str, split: SceneSplit) -> list[Path]:
    arrays, meta = folder / f"{name}.npz", folder / f"{name}.jsonl"
    np.savez_compressed(arrays, images=split.images, masks=split.masks, boxes=split.boxes, labels=split.labels)
    with meta.open("w") as f:
        for d in split.descriptions:
            f.write(json.dumps(d, separators=(",", ":")) + "\n")
    return [arrays, meta]


def load_split(folder: Path, name: str) -> SceneSplit:
    from visionops.core.errors import UserError

    arrays, meta = folder / f"{name}.npz", folder / f"{name}.jsonl"
    if not arrays.is_file() or not meta.is_file():
        raise UserError(f"{arrays} or {meta} is missing; run the scenes stage first (dvc repro scenes)")
    try:
        with np.load(arrays) as blob:
            parts = {k: blob[k] for k in ("images", "masks", "boxes", "labels")}
        descriptions = [json.loads(line) for line in meta.read_text().splitlines()]
    except Exception as exc:  # zip, numpy and json each raise their own types for a damaged file
        raise UserError(f"{folder}/{name}.* cannot be read ({type(exc).__name__}); run dvc repro scenes -f") from None
    if len(descriptions) != len(parts["images"]):
        raise UserError(
            f"{meta} has {len(descriptions)} scenes, {arrays} {len(parts['images'])}; run dvc repro scenes -f"
        )
    return SceneSplit(descriptions=descriptions, **parts)


def load_descriptions(folder: Path, name: str) -> list[dict]:
    """The structured descriptions of a split without its pixels (what the questions are generated from)."""
    from visionops.core.io import read_json_lines

    return read_json_lines(folder / f"{name}.jsonl", "dvc repro scenes")
