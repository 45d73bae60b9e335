"""A user's own images: folder/{train,test}/<class>/*.png|jpg, decoded once into the same IDX files as the IDX sources.

Images are converted to 28x28 grayscale so every network and export takes the same input as Fashion-MNIST.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from visionops.core.errors import UserError
from visionops.core.images import SUFFIXES as IMAGE_SUFFIXES
from visionops.core.io import atomic_dir
from visionops.data.idx import encode_idx

SIZE = 28


def _load_split(folder: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from visionops.core.images import read_pixels, resize

    images, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((folder / name).iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                gray = read_pixels(path)
            except UserError as exc:
                raise UserError(f"{exc}; or remove it from the image folder") from None
            if gray.shape != (SIZE, SIZE):
                gray = resize(gray, (SIZE, SIZE))
            images.append(np.round(np.clip(gray, 0.0, 1.0) * 255.0).astype(np.uint8))
            labels.append(label)
    if not images:
        raise UserError(f"{folder}: no images found (expected {folder}/<class>/*.png or *.jpg)")
    return np.stack(images), np.asarray(labels, dtype=np.uint8)


def fetch_image_folder(root: Path, dest: Path) -> dict[str, int]:
    """Decode root/train and root/test into IDX files plus classes.json in `dest`; return image counts."""
    train_dir, test_dir = root / "train", root / "test"
    if not train_dir.is_dir() or not test_dir.is_dir():
        raise UserError(f"{root}: an image folder needs train/ and test/ sub-folders, one folder per class in each")
    classes = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    if len(classes) < 2 or len(classes) > 255:
        raise UserError(f"{train_dir}: found {len(classes)} class folders, need between 2 and 255")
    missing = [c for c in classes if not (test_dir / c).is_dir()]
    if missing:
        raise UserError(f"{test_dir}: no folder for class(es) {', '.join(missing)}")
    counts = {}
    with atomic_dir(dest) as tmp:
        for split, folder, prefix in (("train", train_dir, "train"), ("test", test_dir, "t10k")):
            x, y = _load_split(folder, classes)
            (tmp / f"{prefix}-images-idx3-ubyte").write_bytes(encode_idx(x))
            (tmp / f"{prefix}-labels-idx1-ubyte").write_bytes(encode_idx(y))
            counts[split] = len(y)
        (tmp / "classes.json").write_text(json.dumps(classes))
    return counts
