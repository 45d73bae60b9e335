"""Raw IDX files -> one uint8 tensor per split, a seeded train/val split, normalisation statistics, a manifest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from visionops.core.errors import UserError
from visionops.data.idx import parse_idx

DATASET_FILE = "dataset.pt"
MANIFEST_FILE = "manifest.json"
CLASSES_FILE = "classes.json"


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # uint8 [N, 1, H, W]
    labels: np.ndarray  # int64 [N]


def read_raw(raw: Path, prefix: str) -> Split:
    """Read `<prefix>-images-idx3-ubyte` and `<prefix>-labels-idx1-ubyte` from `raw`, checking they agree."""
    files = {kind: raw / f"{prefix}-{kind}" for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")}
    for path in files.values():
        if not path.is_file():
            raise UserError(f"{path} is missing; run the fetch stage first (dvc repro fetch)")
    images = parse_idx(files["images-idx3-ubyte"].read_bytes(), str(files["images-idx3-ubyte"]), 3)
    labels = parse_idx(files["labels-idx1-ubyte"].read_bytes(), str(files["labels-idx1-ubyte"]), 1)
    if len(images) != len(labels):
        raise UserError(f"{raw}: {len(images)} {prefix} images but {len(labels)} labels; fetch the data again")
    return Split(images[:, None, :, :].copy(), labels.astype(np.int64))


def split_train_val(train: Split, val_fraction: float, seed: int) -> tuple[Split, Split]:
    """A seeded, stratified split, so every class keeps its share in validation."""
    rng = np.random.default_rng(seed)
    val_idx = []
    for label in np.unique(train.labels):
        members = np.flatnonzero(train.labels == label)
        val_idx.append(rng.choice(members, size=max(1, round(len(members) * val_fraction)), replace=False))
    val_mask = np.zeros(len(train.labels), dtype=bool)
    val_mask[np.concatenate(val_idx)] = True
    return (
        Split(train.images[~val_mask], train.labels[~val_mask]),
        Split(train.images[val_mask], train.labels[val_mask]),
    )


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def prepare(raw: Path, classes: list[str], val_fraction: float, seed: int) -> tuple[dict, dict]:
    """Return (tensors to save, manifest)."""
    import torch

    train, val = split_train_val(read_raw(raw, "train"), val_fraction, seed)
    test = read_raw(raw, "t10k")
    n_classes = int(max(train.labels.max(), test.labels.max())) + 1
    if n_classes > len(classes):
        raise UserError(f"{raw}: labels go up to {n_classes - 1} but the dataset names {len(classes)} classes")
    pixels = train.images.astype(np.float64) / 255.0
    mean, std = float(pixels.mean()), float(pixels.std())
    splits = {"train": train, "val": val, "test": test}
    tensors = {"classes": list(classes), "mean": mean, "std": std}
    manifest = {
        "classes": list(classes),
        "mean": mean,
        "std": std,
        "image_shape": list(train.images.shape[1:]),
        "splits": {},
    }
    for name, split in splits.items():
        tensors[f"{name}_x"] = torch.from_numpy(split.images)
        tensors[f"{name}_y"] = torch.from_numpy(split.labels)
        manifest["splits"][name] = {
            "count": int(len(split.labels)),
            "per_class": np.bincount(split.labels, minlength=len(classes)).tolist(),
            "images_sha256": _digest(split.images),
            "labels_sha256": _digest(split.labels),
        }
    return tensors, manifest


def read_classes(raw: Path, default: tuple[str, ...]) -> list[str]:
    path = raw / CLASSES_FILE
    return json.loads(path.read_text()) if path.is_file() else list(default)


@dataclass(frozen=True)
class Prepared:
    """The prepared dataset, as tensors (CPU until moved)."""

    train_x: torch.Tensor  # noqa: F821
    train_y: torch.Tensor  # noqa: F821
    val_x: torch.Tensor  # noqa: F821
    val_y: torch.Tensor  # noqa: F821
    test_x: torch.Tensor  # noqa: F821
    test_y: torch.Tensor  # noqa: F821
    classes: list[str]
    mean: float
    std: float

    def splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:  # noqa: F821
        """{"train" | "val" | "test": (images, labels)}."""
        return {name: (getattr(self, f"{name}_x"), getattr(self, f"{name}_y")) for name in ("train", "val", "test")}


def prepared_classes(folder: Path) -> list[str]:
    """The class names of the prepared dataset in `folder`, from its manifest (without loading the tensors)."""
    path = folder / MANIFEST_FILE
    try:
        return list(json.loads(path.read_text())["classes"])
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{path} cannot be read ({exc}); run the prepare stage first (dvc repro prepare)") from None


def load_prepared(folder: Path) -> Prepared:
    import torch

    path = folder / DATASET_FILE
    if not path.is_file():
        raise UserError(f"{path} is missing; run the prepare stage first (dvc repro prepare)")
    try:
        blob = torch.load(path, weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged file
        raise UserError(f"{path} cannot be read ({type(exc).__name__}); run dvc repro prepare -f") from None
    return Prepared(**blob)


def prepare_stage(*, raw: Path, out: Path, params: Any, root: Path) -> None:
    """Prepare the raw files in `raw` into `out`: the tensors and their manifest."""

    import torch

    from visionops.core.io import atomic_dir
    from visionops.data.prepare import DATASET_FILE, MANIFEST_FILE, prepare, read_classes
    from visionops.data.sources import IDX_SOURCES

    default_classes = IDX_SOURCES[params.data.dataset].classes if params.data.dataset in IDX_SOURCES else ()
    classes = read_classes(raw, default_classes)
    tensors, manifest = prepare(raw, classes, params.data.val_fraction, params.data.seed)
    with atomic_dir(out) as tmp:
        torch.save(tensors, tmp / DATASET_FILE)
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    counts = ", ".join(f"{k} {v['count']}" for k, v in manifest["splits"].items())
    print(f"prepare: {counts} images of {len(classes)} classes into {out}")
