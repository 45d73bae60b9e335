"""The exported generator through onnxruntime (no torch): noise (+ label) -> images, and `visionops sample`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from visionops.core.errors import UserError
from visionops.core.ort import class_names, session

NOISE_NAME = "noise"
LABEL_NAME = "label"
IMAGE_NAME = "image"


def generate(sess: onnxruntime.InferenceSession, noise: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:  # noqa: F821
    """Images [N, C, H, W] in [0, 1] for float32 noise [N, latent] (and int64 labels [N] if conditional)."""
    feed = {NOISE_NAME: np.ascontiguousarray(noise, dtype=np.float32)}
    if labels is not None:
        feed[LABEL_NAME] = np.ascontiguousarray(labels, dtype=np.int64)
    return sess.run([IMAGE_NAME], feed)[0]


def latent_dim(sess: onnxruntime.InferenceSession) -> int:  # noqa: F821
    return int(next(i for i in sess.get_inputs() if i.name == NOISE_NAME).shape[1])


def is_conditional(sess: onnxruntime.InferenceSession) -> bool:  # noqa: F821
    return any(i.name == LABEL_NAME for i in sess.get_inputs())


def sample_grid(
    model: Path, n: int, *, seed: int, label: str | None, threads: int = 0
) -> tuple[np.ndarray, int, list[str]]:
    """n images from the ONNX generator: (images, columns for the grid, the class of each image).

    A conditional generator without `label` draws every class in turn, one column per class.
    """
    if n < 1 or n > 4096:
        raise UserError(f"--n must be between 1 and 4096 (got {n})")
    if not 0 <= seed < 2**32:
        raise UserError(f"--seed {seed}: a seed is a whole number from 0 to {2**32 - 1}")
    sess = session(model, threads)
    classes = class_names(sess)
    conditional = is_conditional(sess)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, latent_dim(sess))).astype(np.float32)
    if not conditional:
        if label is not None:
            raise UserError(f"{model} is not a conditional generator, so --label cannot be used; use the cgan model")
        return generate(sess, noise), min(n, 10), [""] * n
    if label is None:
        labels = np.arange(n) % len(classes)
        columns = len(classes)
    elif label in classes:
        labels = np.full(n, classes.index(label))
        columns = min(n, 8)
    else:
        raise UserError(f"unknown class '{label}' (the generator knows: {', '.join(classes)})")
    return generate(sess, noise, labels), columns, [classes[k] for k in labels]
