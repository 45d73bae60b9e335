"""The cluttered_scenes stage's work: compose the detection and segmentation scenes from the prepared images
(train scenes from training images, val from validation, test from test images), with a manifest and checksums."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

SPLITS = ("train", "val", "test")


def cluttered_stage(*, data_path: Path, out: Path, params: Any, root: Path) -> None:
    """Compose every split from the prepared data in `data_path` into `out`, with the manifest."""
    import numpy as np

    from visionops.core.errors import UserError
    from visionops.core.io import atomic_dir
    from visionops.data.prepare import load_prepared
    from visionops.data.scenes.cluttered import compose_cluttered, write_cluttered
    from visionops.data.scenes.compose import SCENE_MANIFEST_FILE

    p = params.cluttered_scenes
    data = load_prepared(data_path)
    sources = {
        "train": (data.train_x, data.train_y),
        "val": (data.val_x, data.val_y),
        "test": (data.test_x, data.test_y),
    }
    manifest: dict[str, Any] = {
        "canvas": [int(data.train_x.shape[1]), p.canvas, p.canvas],
        "classes": data.classes,
        "item_sides": [p.min_side, p.max_side],
        "items_per_scene": [p.min_items, p.max_items],
        "max_overlap": p.max_overlap,
        "splits": {},
    }
    with atomic_dir(out) as tmp:
        for index, name in enumerate(SPLITS):
            x, y = sources[name]
            if not len(y):
                raise UserError(f"cluttered_scenes: the prepared data has no {name} images; run dvc repro prepare -f")
            split = compose_cluttered(
                getattr(p, name),
                items=x.numpy(),
                item_labels=y.numpy().astype(np.int64),
                canvas=p.canvas,
                min_items=p.min_items,
                max_items=p.max_items,
                min_side=p.min_side,
                max_side=p.max_side,
                max_overlap=p.max_overlap,
                rng=np.random.default_rng([p.seed, index]),
            )
            path = write_cluttered(tmp, name, split)
            present = split.labels >= 0
            visible = split.masks().sum(axis=(2, 3))[present]
            manifest["splits"][name] = {
                "scenes": len(split),
                "items": int(present.sum()),
                "per_count": np.bincount(present.sum(1), minlength=p.max_items + 1)[1:].tolist(),
                "left_out": split.left_out,  # items no position within the overlap cap was found for
                "min_visible_pixels": int(visible.min()) if len(visible) else 0,
                "sha256": {path.name: hashlib.sha256(path.read_bytes()).hexdigest()},
            }
        (tmp / SCENE_MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    counts = ", ".join(f"{k} {v['scenes']}" for k, v in manifest["splits"].items())
    print(f"cluttered_scenes: {counts} scenes of {p.canvas}x{p.canvas} into {out}")
