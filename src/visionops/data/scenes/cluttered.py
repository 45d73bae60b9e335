"""Cluttered scenes for detection and segmentation: items placed freely on the canvas, at several scales, allowed to
overlap up to a cap, later items drawn over earlier ones. Each item keeps its tight box and its visible mask.

All of a split is composed at once (numpy): the only Python loops are over the item slots, the item sides and the
placement retries, never over scenes. The visible masks are stored as one instance map per scene (0 background,
k + 1 for the item in slot k): visible masks never overlap, so the map holds them all exactly, in 1/K of the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from visionops.data.scenes.compose import MASK_THRESHOLD, area_matrix

ARRAYS = ("images", "instances", "labels", "boxes", "sides")


@dataclass
class ClutteredSplit:
    images: np.ndarray  # [N, C, S, S] uint8
    instances: np.ndarray  # [N, S, S] uint8: 0 background, k + 1 where item k is visible
    labels: np.ndarray  # [N, K] int8 class of each item, -1 past the scene's count (present slots come first)
    boxes: np.ndarray  # [N, K, 4] int16 (x0, y0, x1, y1), end exclusive, tight around the visible pixels; -1 empty
    sides: np.ndarray  # [N, K] int16 side the item was drawn at (its 28 px square scaled), -1 empty
    left_out: int = 0  # items composing wanted but found no place for within the overlap cap (not stored)

    def __len__(self) -> int:
        return len(self.labels)

    def class_map(self) -> np.ndarray:
        """[N, S, S] uint8 per-pixel class: 0 background, class + 1 where an item is visible."""
        lookup = np.concatenate([np.zeros((len(self), 1), np.int16), self.labels.astype(np.int16) + 1], axis=1)
        return (
            np.take_along_axis(lookup, self.instances.reshape(len(self), -1).astype(np.int64), axis=1)
            .reshape(self.instances.shape)
            .astype(np.uint8)
        )

    def masks(self) -> np.ndarray:
        """[N, K, S, S] bool visible mask of each slot (empty for an empty slot)."""
        slots = np.arange(1, self.labels.shape[1] + 1, dtype=np.uint8)
        return self.instances[:, None, :, :] == slots[None, :, None, None]


def _tight_box(on: np.ndarray) -> np.ndarray:
    """[..., H, W] bool -> [..., 4] (x0, y0, x1, y1) end exclusive; -1 where nothing is on."""
    rows, cols = on.any(axis=-1), on.any(axis=-2)
    h, w = on.shape[-2:]
    empty = ~rows.any(axis=-1)
    box = np.stack(
        [cols.argmax(-1), rows.argmax(-1), w - cols[..., ::-1].argmax(-1), h - rows[..., ::-1].argmax(-1)], axis=-1
    )
    return np.where(empty[..., None], -1, box)


def _resized_patches(items: np.ndarray, sides: np.ndarray, max_side: int) -> np.ndarray:
    """Each item area-resampled to its side, top-left in a [.., C, max_side, max_side] zero patch."""
    c, h, w = items.shape[1:]
    out = np.zeros((*sides.shape, c, max_side, max_side), np.uint8)
    for side in np.unique(sides):
        sel = sides == side
        patch = items[sel].astype(np.float32)
        if side != h or side != w:  # area resampling as two matrix products (rows, then columns)
            rows, cols = area_matrix(int(side), h).astype(np.float32), area_matrix(int(side), w).astype(np.float32)
            patch = rows @ patch @ cols.T
        out[sel, :, :side, :side] = np.rint(patch).clip(0, 255).astype(np.uint8)
    return out


def _overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over the smaller box's area, for boxes [..., 4]."""
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return iw * ih / np.maximum(np.minimum(area_a, area_b), 1)


def compose_cluttered(
    n: int,
    *,
    items: np.ndarray,
    item_labels: np.ndarray,
    canvas: int,
    min_items: int,
    max_items: int,
    min_side: int,
    max_side: int,
    max_overlap: float,
    rng: np.random.Generator,
    tries: int = 30,
) -> ClutteredSplit:
    """N scenes of `min_items`..`max_items` items (uint8 [M, C, H, W] with labels [M]).

    Each item is drawn at a side in [min_side, max_side] at a uniform position. Its box (tight around its pixels,
    before anything covers it) may overlap each earlier item's by at most `max_overlap` of the smaller box's area;
    a position that breaks the cap is drawn again, up to `tries` times, then the item is left out (the manifest
    counts those).
    """
    k = max_items
    counts = rng.integers(min_items, max_items + 1, size=n)
    wanted = np.arange(k)[None, :] < counts[:, None]
    source = rng.integers(0, len(items), size=(n, k))
    sides = rng.integers(min_side, max_side + 1, size=(n, k))
    patches = _resized_patches(items[source.reshape(-1)].reshape(n * k, *items.shape[1:]), sides.reshape(-1), max_side)
    patches = patches.reshape(n, k, *patches.shape[1:])
    patch_on = patches.max(axis=2) >= MASK_THRESHOLD  # [N, K, max_side, max_side]
    patch_box = _tight_box(patch_on)  # within the patch

    offsets = np.zeros((n, k, 2), np.int64)  # (y, x) of each patch's top-left corner
    placed = np.zeros((n, k), bool)
    drawn_box = np.zeros((n, k, 4), np.int64)
    for slot in range(k):
        pending = np.flatnonzero(wanted[:, slot])
        for _ in range(tries):
            if not len(pending):
                break
            room = canvas - sides[pending, slot] + 1
            yx = (rng.random((len(pending), 2)) * room[:, None]).astype(np.int64)
            box = patch_box[pending, slot] + np.concatenate([yx[:, ::-1], yx[:, ::-1]], axis=1)
            clash = (_overlap(box[:, None, :], drawn_box[pending, :slot]) > max_overlap) & placed[pending, :slot]
            ok = ~clash.any(axis=1)
            accepted = pending[ok]
            offsets[accepted, slot], drawn_box[accepted, slot], placed[accepted, slot] = yx[ok], box[ok], True
            pending = pending[~ok]

    # present items first, in drawing order, so slot k of the stored arrays is the k-th item drawn
    order = np.argsort(~placed, axis=1, kind="stable")
    by_order = np.arange(n)[:, None], order
    placed, offsets, sides, source = placed[by_order], offsets[by_order], sides[by_order], source[by_order]
    patches, patch_on = patches[by_order], patch_on[by_order]

    c = items.shape[1]
    padded = canvas + max_side  # patches may reach past the canvas on their blank side; cropped below
    images = np.zeros((n, c, padded, padded), np.uint8)
    instances = np.zeros((n, padded, padded), np.uint8)
    rows = np.arange(max_side)
    for slot in range(k):
        scenes = np.flatnonzero(placed[:, slot])
        ys = offsets[scenes, slot, 0][:, None] + rows[None, :]
        xs = offsets[scenes, slot, 1][:, None] + rows[None, :]
        on = patch_on[scenes, slot]
        at = scenes[:, None, None], ys[:, :, None], xs[:, None, :]
        instances[at] = np.where(on, slot + 1, instances[at])
        for ch in range(c):
            at_c = scenes[:, None, None], np.full_like(ys[:, :, None], ch), ys[:, :, None], xs[:, None, :]
            images[at_c] = np.where(on, patches[scenes, slot, ch], images[at_c])
    images, instances = images[:, :, :canvas, :canvas].copy(), instances[:, :canvas, :canvas].copy()

    labels = np.where(placed, item_labels[source], -1).astype(np.int8)
    visible = instances[:, None, :, :] == np.arange(1, k + 1, dtype=np.uint8)[None, :, None, None]
    boxes = np.where(placed[..., None], _tight_box(visible), -1).astype(np.int16)
    sides = np.where(placed, sides, -1).astype(np.int16)
    return ClutteredSplit(images, instances, labels, boxes, sides, left_out=int(wanted.sum() - placed.sum()))


def write_cluttered(folder: Path, name: str, split: ClutteredSplit) -> Path:
    path = folder / f"{name}.npz"
    np.savez_compressed(path, **{a: getattr(split, a) for a in ARRAYS})
    return path


def load_cluttered(folder: Path, name: str) -> ClutteredSplit:
    from visionops.core.errors import UserError

    path = folder / f"{name}.npz"
    if not path.is_file():
        raise UserError(f"{path} is missing; run the cluttered_scenes stage first (dvc repro cluttered_scenes)")
    try:
        with np.load(path) as blob:
            parts = {a: blob[a] for a in ARRAYS}
    except Exception as exc:  # zip and numpy each raise their own types for a damaged file
        raise UserError(f"{path} cannot be read ({type(exc).__name__}); run dvc repro cluttered_scenes -f") from None
    return ClutteredSplit(**parts)


def scene_classes(folder: Path) -> list[str]:
    """The item class names, from the scenes' manifest."""
    import json

    from visionops.core.errors import UserError
    from visionops.data.scenes.compose import SCENE_MANIFEST_FILE

    try:
        return list(json.loads((folder / SCENE_MANIFEST_FILE).read_text())["classes"])
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(
            f"{folder / SCENE_MANIFEST_FILE} cannot be read ({type(exc).__name__}); run dvc repro cluttered_scenes -f"
        ) from None


def training_scenes(folder: Path, upstream: list[Path]) -> tuple[dict[str, ClutteredSplit], list[str], str]:
    """The train and val splits, the class names and the digest a resumed fit must match: the scenes' manifest and
    every file in `upstream` (a classifier whose weights the model starts from, say)."""
    import hashlib

    from visionops.data.scenes.compose import SCENE_MANIFEST_FILE

    digest = hashlib.sha256((folder / SCENE_MANIFEST_FILE).read_bytes())
    for path in upstream:
        digest.update(path.read_bytes())
    splits = {name: load_cluttered(folder, name) for name in ("train", "val")}
    return splits, scene_classes(folder), digest.hexdigest()
