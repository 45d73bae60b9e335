"""The exported segmenter through onnxruntime (no torch): scene pixels -> per-pixel class map, and the files
`visionops segment` reads."""

from __future__ import annotations

from pathlib import Path

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


def load_scene(path: Path, shape: tuple[int, int, int]) -> np.ndarray:
    """One image file as float32 [C, H, W] in [0, 1] at the model's size (resized with a note)."""
    import sys

    from visionops.core.errors import UserError
    from visionops.core.images import read_pixels, resize

    channels, height, width = shape
    if channels != 1:
        raise UserError(f"this segmenter takes {channels}-channel images; only grayscale scenes are supported")
    gray = read_pixels(path)
    if gray.shape != (height, width):
        print(f"note: {path} is {gray.shape[1]}x{gray.shape[0]}, resized to {width}x{height}", file=sys.stderr)
        gray = resize(gray, (width, height))
    return gray[None]
