"""The exported classifier through onnxruntime (no torch): batched logits, and `visionops predict` (image files ->
class and probability)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from visionops.core.ort import class_names, session, softmax

INPUT_NAME = "pixels"
OUTPUT_NAME = "logits"


def predict_logits(sess: onnxruntime.InferenceSession, pixels: np.ndarray, batch_size: int = 1000) -> np.ndarray:  # noqa: F821
    """Logits for float32 pixels in [0, 1], shape [N, C, H, W], in batches."""
    outputs = [
        sess.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(pixels[i : i + batch_size], dtype=np.float32)})[0]
        for i in range(0, len(pixels), batch_size)
    ]
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), dtype=np.float32)


def load_images(paths: list[Path], size: tuple[int, int] = (28, 28)) -> list[tuple[Path, np.ndarray]]:
    """Decode each file to float32 grayscale [1, H, W] in [0, 1] (visionops.core.images); other sizes are resized,
    with a note.

    Fashion-MNIST shows light objects on a black background; a photo on a white background should be inverted first.
    """
    from visionops.core.images import read_pixels, resize

    loaded = []
    for path in paths:
        gray = read_pixels(path)
        if gray.shape[::-1] != size:
            print(f"note: {path} is {gray.shape[1]}x{gray.shape[0]}, resized to {size[0]}x{size[1]}", file=sys.stderr)
            gray = resize(gray, size)
        loaded.append((path, gray[None]))
    return loaded


def predict_files(
    model: Path, images: list[tuple[Path, np.ndarray]], threads: int = 0
) -> list[tuple[Path, str, float]]:
    sess = session(model, threads)
    names = class_names(sess)
    probs = softmax(predict_logits(sess, np.stack([pixels for _, pixels in images])))
    results = []
    for (path, _), p in zip(images, probs, strict=True):
        k = int(p.argmax())
        results.append((path, names[k] if k < len(names) else str(k), float(p[k])))
    return results
