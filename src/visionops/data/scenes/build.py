"""The scenes stage's work: compose the scene splits from the prepared images (train/val/test items stay in their
split), with a held-out split of combinations never seen in training, and a manifest with checksums."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from visionops.core.errors import UserError
from visionops.data.scenes.compose import SCENE_MANIFEST_FILE


def scenes_stage(*, data_path: Path, out: Path, params: Any, root: Path) -> None:
    """Compose every scene split from the prepared data in `data_path` into `out`, with the manifest."""

    import numpy as np

    from visionops.core.io import atomic_dir
    from visionops.data.prepare import load_prepared
    from visionops.data.scenes.compose import SceneSplit, choose_heldout, describe, render, sample_split, write_split

    p = params.scenes
    data = load_prepared(data_path)
    side = data.train_x.shape[-1]
    if data.train_x.shape[-2] != side:
        raise UserError(f"scenes need square items; the data has {tuple(data.train_x.shape[1:])}")
    small_side = max(1, round(side * p.small_scale))
    n_classes = len(data.classes)
    if n_classes < p.max_objects:
        raise UserError(f"scenes.max_objects {p.max_objects} needs as many classes; the data has {n_classes}")
    combos = choose_heldout(n_classes, p.heldout_combinations, p.seed)
    sources = {
        "train": (data.train_x, data.train_y),
        "val": (data.val_x, data.val_y),
        "test": (data.test_x, data.test_y),
        "heldout": (data.test_x, data.test_y),
    }
    manifest = {
        "canvas": [int(data.train_x.shape[1]), 2 * side, 2 * side],
        "item_sides": {"small": small_side, "large": side},
        "classes": data.classes,
        "heldout_combinations": [c.text(data.classes) for c in combos],
        "splits": {},
    }
    with atomic_dir(out) as tmp:
        for index, (name, (x, y)) in enumerate(sources.items()):
            rng = np.random.default_rng([p.seed, index])
            images, labels = x.numpy(), y.numpy().astype(np.int64)
            try:
                layouts = sample_split(
                    getattr(p, name),
                    item_labels=labels,
                    n_classes=n_classes,
                    combos=combos,
                    heldout=name == "heldout",
                    max_objects=p.max_objects,
                    small_prob=p.small_prob,
                    side=side,
                    small_side=small_side,
                    rng=rng,
                )
            except ValueError as exc:
                raise UserError(f"{name} scenes: {exc}; lower scenes.max_objects or use more images") from None
            pixels, masks, boxes = render(layouts, images, small_side)
            descriptions = describe(
                layouts,
                boxes,
                classes=data.classes,
                captions_per_scene=p.captions_per_scene,
                size_prob=p.size_mention_prob,
                reading_order_prob=p.reading_order_prob,
                rng=rng,
            )
            files = write_split(
                tmp, name, SceneSplit(pixels, masks, boxes, layouts.labels.astype(np.int8), descriptions)
            )
            manifest["splits"][name] = {
                "scenes": len(layouts),
                "objects": int((layouts.labels >= 0).sum()),
                "per_count": np.bincount((layouts.labels >= 0).sum(1), minlength=p.max_objects + 1)[1:].tolist(),
                "source_images": int(len(np.unique(layouts.items[layouts.items >= 0]))),
                "sha256": {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files},
            }
        (tmp / SCENE_MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    counts = ", ".join(f"{k} {v['scenes']}" for k, v in manifest["splits"].items())
    print(f"scenes: {counts} scenes of {manifest['canvas'][1]}x{manifest['canvas'][2]} into {out}")
