"""How well a classifier's out-of-distribution threshold (stored in its ONNX file by the export stage) tells
Fashion-MNIST from inputs unlike it: its false alarms on the test set, its catch rate on generated kinds of input."""

from __future__ import annotations

import numpy as np


def unlike_fashion_mnist(test_pixels: np.ndarray, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """`n` float32 images [n, C, H, W] in [0, 1] of each kind a user might send by mistake: uniform noise, flat grey,
    stripes (a texture, not an item), and test images inverted (a photo on a light background, not inverted)."""
    rng = np.random.default_rng(seed)
    shape = (n, *test_pixels.shape[1:])
    height, width = shape[-2:]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle, period = rng.uniform(0, np.pi, (n, 1, 1)), rng.uniform(3, 12, (n, 1, 1))
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / period)
    return {
        "noise": rng.uniform(0, 1, shape).astype(np.float32),
        "flat": np.broadcast_to(rng.uniform(0, 1, (n, 1, 1, 1)), shape).astype(np.float32),
        "stripes": np.broadcast_to(stripes[:, None], shape).astype(np.float32),
        "inverted": 1.0 - test_pixels[:n],
    }


def ood_report(threshold: float, test_scores: np.ndarray, unlike_scores: dict[str, np.ndarray]) -> dict[str, object]:
    """The threshold, the share of test images it flags (false alarms) and the share of each unlike kind it flags
    (catches), from the `ood_score` of each."""
    return {
        "threshold": threshold,
        "false_alarm": float((test_scores < threshold).mean()),
        "catch": {kind: float((scores < threshold).mean()) for kind, scores in unlike_scores.items()},
    }
