"""Pictures of detections: boxes with class and score and masks in colour over a scene (numpy and Pillow only, for
the CLI), the predictions beside the truth for a few scenes, and per-class AP bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from visionops.core.figures import PALETTE, pyplot
from visionops.detection.runtime import Detections


def draw_detections(scene: np.ndarray, found: Detections, names: list[str], scale: int = 4) -> np.ndarray:
    """RGB uint8 picture of a grey scene [H, W] scaled up, each detection's mask tinted in its class colour, its box
    outlined and labelled with class and score. `names` are indexed by label (0 is background)."""
    from PIL import Image, ImageDraw

    rgb = np.repeat(scene[..., None], 3, -1).astype(np.float32)
    for k in range(len(found.labels)):
        colour = PALETTE[(int(found.labels[k]) - 1) % (len(PALETTE) - 1) + 1].astype(np.float32)
        if found.masks is not None:
            on = found.masks[k] >= 0.5
            rgb[on] = 0.45 * rgb[on] + 0.55 * colour
    h, w = scene.shape
    picture = Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).resize(
        (w * scale, h * scale), Image.Resampling.NEAREST
    )
    draw = ImageDraw.Draw(picture)
    for box, label, score in zip(found.boxes, found.labels, found.scores):
        colour = tuple(int(v) for v in PALETTE[(int(label) - 1) % (len(PALETTE) - 1) + 1])
        x0, y0, x1, y1 = (float(v) * scale for v in box)
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=colour, width=2)
        name = names[int(label)] if int(label) < len(names) else str(int(label))
        draw.text((x0 + 2, max(y0 - 11, 0)), f"{name} {score:.2f}", fill=colour)
    return np.asarray(picture)


def detections_figure(
    scenes: np.ndarray, truth: list[Detections], found: dict[str, list[Detections]], *, names: list[str], path: Path
) -> None:
    """One column per scene: the truth, then each detector's detections (above the figure's score)."""
    plt = pyplot()
    rows = [("truth", truth), *found.items()]
    n = len(scenes)
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 2.0 + 0.8, len(rows) * 2.0 + 0.2), squeeze=False)
    for r, (label, dets) in enumerate(rows):
        for c in range(n):
            axes[r][c].axis("off")
            axes[r][c].imshow(draw_detections(scenes[c, 0], dets[c], names))
        axes[r][0].text(-20, scenes.shape[-2] * 2, label, ha="right", va="center", fontsize=9)
    fig.subplots_adjust(left=0.08, right=0.99, top=0.99, bottom=0.01, wspace=0.04, hspace=0.04)
    fig.savefig(path, dpi=100)
    plt.close(fig)
