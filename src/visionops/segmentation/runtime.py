"""The exported segmenter through onnxruntime (no torch): scene pixels -> per-pixel class map."""

from __future__ import annotations

import numpy as np

INPUT_NAME = "pixels"
OUTPUT_NAME = "scores"


def segment(sess: onnxruntime.InferenceSession, pixels: np.ndarray, batch_size: int = 250) -> np.ndarray:  # noqa: F821
    """Class maps [N, H, W] uint8 (0 background, class + 1) for float32 pixels [N, C, H, W] in [0, 1]."""
    maps = [
        sess.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(pixels[i : i + batch_size], np.float32)})[0]
        .argmax(1)
        .astype(np.uint8)
        for i in range(0, len(pixels), batch_size)
    ]
    return np.concatenate(maps) if maps else np.zeros((0, *pixels.shape[2:]), np.uint8)


def input_shape(sess: onnxruntime.InferenceSession) -> tuple[int, int, int]:  # noqa: F821
    """(channels, height, width) the model was exported for."""
    _, c, h, w = sess.get_inputs()[0].shape
    return int(c), int(h), int(w)
