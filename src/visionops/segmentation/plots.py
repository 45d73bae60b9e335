"""Pictures of class maps: a fixed palette (numpy only, for the CLI), the maps beside the truth, per-class IoU bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from visionops.core.figures import PALETTE, pyplot


def colour(class_map: np.ndarray) -> np.ndarray:
    """Class map [..., H, W] (0 background, class + 1) -> RGB uint8 [..., H, W, 3]; classes past ten cycle."""
    index = np.where(class_map == 0, 0, (class_map.astype(np.int64) - 1) % (len(PALETTE) - 1) + 1)
    return PALETTE[index]


def legend_image(class_map: np.ndarray, names: list[str], scale: int = 4) -> np.ndarray:
    """The coloured map, scaled up, with a legend of the classes it shows (for `visionops segment --out`)."""
    from PIL import Image, ImageDraw

    rgb = colour(class_map)
    h, w = class_map.shape
    shown = [int(k) for k in np.unique(class_map) if k > 0]
    row = 14
    picture = Image.new("RGB", (max(w * scale, 160), h * scale + row * max(len(shown), 1) + 4), (255, 255, 255))
    picture.paste(Image.fromarray(rgb).resize((w * scale, h * scale), Image.Resampling.NEAREST), (0, 0))
    draw = ImageDraw.Draw(picture)
    for i, k in enumerate(shown):
        y = h * scale + 2 + i * row
        draw.rectangle([2, y + 2, 12, y + 12], fill=tuple(int(v) for v in colour(np.array([k]))[0]))
        draw.text((16, y), names[k] if k < len(names) else str(k), fill=(0, 0, 0))
    if not shown:
        draw.text((2, h * scale + 2), "no items found", fill=(0, 0, 0))
    return np.asarray(picture)


def maps_figure(images: np.ndarray, truth: np.ndarray, predicted: dict[str, np.ndarray], path: Path) -> None:
    """One column per scene: the scene, the true map, then each model's map."""
    plt = pyplot()
    rows = [("scene", None), ("truth", truth), *predicted.items()]
    n = len(images)
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 1.1 + 0.9, len(rows) * 1.1 + 0.3), squeeze=False)
    for r, (label, maps) in enumerate(rows):
        for c in range(n):
            ax = axes[r][c]
            ax.axis("off")
            if maps is None:
                ax.imshow(images[c, 0], cmap="gray", vmin=0, vmax=255)
            else:
                ax.imshow(colour(maps[c]))
        axes[r][0].text(-6, images.shape[-2] / 2, label, ha="right", va="center", fontsize=8)
    fig.subplots_adjust(left=0.12, right=0.99, top=0.98, bottom=0.02, wspace=0.05, hspace=0.05)
    fig.savefig(path, dpi=100)
    plt.close(fig)
