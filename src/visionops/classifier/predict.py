"""The exported classifier through onnxruntime (no torch): batched logits, and `visionops predict` (image files ->
class and probability)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

from visionops.core.ort import class_names, ood_score, ood_threshold, session, softmax

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
    """Decode each file to float32 grayscale [1, H, W] in [0, 1] (visionops.core.images) in the form of a
    Fashion-MNIST item: a light background inverted, other sizes cropped to the item, padded to square and resized,
    with a note on stderr saying what was done."""
    from visionops.core.images import as_fashion_item, read_pixels

    loaded = []
    for path in paths:
        gray = read_pixels(path)
        item, done = as_fashion_item(gray, size)
        if done:
            print(f"note: {path} is {gray.shape[1]}x{gray.shape[0]}: {', '.join(done)}", file=sys.stderr)
        loaded.append((path, item[None]))
    return loaded


class Prediction(NamedTuple):
    path: Path
    label: str
    probability: float
    unusual: bool  # its ood_score is below the model's out-of-distribution threshold


def predict_files(model: Path, images: list[tuple[Path, np.ndarray]], threads: int = 0) -> list[Prediction]:
    sess = session(model, threads)
    names, threshold = class_names(sess), ood_threshold(sess)
    logits = predict_logits(sess, np.stack([pixels for _, pixels in images]))
    probs, scores = softmax(logits), ood_score(logits)
    results = []
    for (path, _), p, score in zip(images, probs, scores, strict=True):
        k = int(p.argmax())
        label = names[k] if k < len(names) else str(k)
        results.append(Prediction(path, label, float(p[k]), threshold is not None and float(score) < threshold))
    return results
