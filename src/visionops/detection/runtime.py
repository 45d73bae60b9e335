"""The exported detectors through onnxruntime (no torch): one scene's pixels -> its detections."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INPUT_NAME = "pixels"
OUTPUT_NAMES = ("boxes", "labels", "scores", "masks")


@dataclass(frozen=True)
class Detections:
    """One scene's detections, best first: boxes [n, 4] float32 (x0, y0, x1, y1) in pixels, labels [n] int64
    (class + 1), scores [n] float32, masks [n, H, W] float32 in [0, 1] (None for a detector without masks)."""

    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    masks: np.ndarray | None

    def above(self, threshold: float) -> Detections:
        keep = self.scores >= threshold
        return Detections(
            self.boxes[keep], self.labels[keep], self.scores[keep], None if self.masks is None else self.masks[keep]
        )


def detect(sess: onnxruntime.InferenceSession, pixels: np.ndarray) -> list[Detections]:  # noqa: F821
    """Detections of each scene of float32 pixels [N, C, H, W] in [0, 1], one run per scene (the model's batch is 1)."""
    names = [o.name for o in sess.get_outputs()]
    out = []
    for scene in pixels:
        got = dict(zip(names, sess.run(names, {INPUT_NAME: np.ascontiguousarray(scene[None], np.float32)})))
        masks = got.get("masks")
        out.append(
            Detections(
                got["boxes"].reshape(-1, 4),
                got["labels"].astype(np.int64),
                got["scores"],
                None if masks is None else masks[:, 0],
            )
        )
    return out


def input_shape(sess: onnxruntime.InferenceSession) -> tuple[int, int, int]:  # noqa: F821
    """(channels, height, width) the model was exported for."""
    _, c, h, w = sess.get_inputs()[0].shape
    return int(c), int(h), int(w)
