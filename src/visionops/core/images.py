"""The one image reader of every command and of the image-folder dataset: a file -> float32 pixels in [0, 1].

What it guards against, each with one line: images too large to decode (checked from the header, before any pixel
is decoded), files PIL cannot read, and animated files (which frame is meant is the user's call). What it gets right
that `Image.convert` alone does not: 16-bit images are scaled to [0, 1], not clipped at 255, and transparent pixels
are composited on black, the background of Fashion-MNIST, with a note.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from visionops.core.errors import UserError

if TYPE_CHECKING:
    import PIL.Image

MAX_PIXELS = 4096 * 4096  # far above any useful input of 28x28 classifiers or 56x56 scenes
SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def read_pixels(path: Path, channels: int = 1) -> np.ndarray:
    """Decode `path` to float32 [H, W] (channels=1, luma) or [H, W, 3] (channels=3) in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                _check_header(path, img)
                return _to_array(path, img, channels)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder; give an image file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UserError(f"{path}: larger than {MAX_PIXELS:,} pixels; scale it down first") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        # PIL raises each of these for damaged or truncated files
        raise UserError(f"{path}: not a readable image ({type(exc).__name__}: {exc}); give a PNG or JPEG") from None


def _check_header(path: Path, img: PIL.Image.Image) -> None:
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise UserError(
            f"{path} is {width}x{height}, more than the {MAX_PIXELS:,} pixels this reader decodes; scale it down first"
        )
    if width < 1 or height < 1:
        raise UserError(f"{path} is {width}x{height}: an image needs at least one pixel")
    frames = getattr(img, "n_frames", 1)
    if frames > 1:
        raise UserError(
            f"{path} has {frames} frames; extract the one you mean first "
            f"(e.g. python -c \"from PIL import Image; Image.open('{path}').save('frame0.png')\" for the first)"
        )


def _to_array(path: Path, img: PIL.Image.Image, channels: int) -> np.ndarray:
    from PIL import Image

    img.load()
    if img.mode in _SIXTEEN_BIT:
        values = np.asarray(img, dtype=np.float32)
        scale = 65535.0 if img.mode != "I" or values.max() > 255 else 255.0
        gray = np.clip(values / scale, 0.0, 1.0)
        return gray if channels == 1 else np.repeat(gray[..., None], 3, axis=2)
    if img.mode == "F":
        raise UserError(f"{path} holds floating-point pixels; save it as an 8- or 16-bit image")
    has_alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
        print(f"note: {path} has transparency; composited on black, the training images' background", file=sys.stderr)
    converted = img.convert("L" if channels == 1 else "RGB")
    return np.asarray(converted, dtype=np.float32) / 255.0


def resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of [H, W] float pixels to size (width, height)."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.float32))
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR), dtype=np.float32)


LIGHT_BACKGROUND = 0.5  # a border brighter than this is a light background: Fashion-MNIST's is black
ITEM_CONTRAST = 0.2  # a pixel this far from the background is part of the item
ITEM_SHARE = 0.02  # a row or column holds the item where this share of its pixels does
BLACK = 0.02  # a background darker than this is black already


def as_fashion_item(gray: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, list[str]]:
    """A photo of one item as Fashion-MNIST shows one: light on black (inverted, levels stretched so the
    background is black and the item's brightest pixel white), cropped to the item, padded (not stretched) to a
    square and resized to `size` (width, height). Returns the pixels and what was done, for a note.

    An image already at `size` on a dark background is left as it is: it is in the training images' form.
    """
    done = []
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    if background > LIGHT_BACKGROUND:
        gray, background = 1.0 - gray, 1.0 - background
        done.append(f"light background ({1.0 - background:.2f}) inverted")
    if gray.shape[::-1] == size:
        return gray, done
    if background > BLACK:
        # Fashion-MNIST's background is black, and its items span the grey levels up to white
        gray = np.clip((gray - background) / max(float(gray.max()) - background, ITEM_CONTRAST), 0.0, 1.0)
        background = 0.0
        done.append("levels stretched to a black background")
    # the item's rows and columns: those with a few per cent of their pixels off the background (single noisy
    # pixels of a photo's background do not count)
    item = np.abs(gray - background) > ITEM_CONTRAST
    rows = np.flatnonzero(item.sum(axis=1) >= max(1, ITEM_SHARE * gray.shape[1]))
    cols = np.flatnonzero(item.sum(axis=0) >= max(1, ITEM_SHARE * gray.shape[0]))
    if len(rows) and len(cols) and (np.ptp(rows) + 1, np.ptp(cols) + 1) != gray.shape:
        gray = gray[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        done.append("cropped to the item")
    height, width = gray.shape
    if height != width:
        side = max(height, width)
        square = np.full((side, side), background, dtype=np.float32)
        top, left = (side - height) // 2, (side - width) // 2
        square[top : top + height, left : left + width] = gray
        gray = square
        done.append(f"padded to {side}x{side}")
    if gray.shape[::-1] != size:
        gray = resize(gray, size)
        done.append(f"resized to {size[0]}x{size[1]}")
    return gray, done


def read_scenes(paths: list[Path], shape: tuple[int, ...], reader: str) -> np.ndarray:
    """Decode scene files to float32 [N, C, H, W] in [0, 1] at a scene model's size (`reader` names the model in
    the refusal).

    A square image whose side is a whole multiple of the scene's (128x128 for 64x64 scenes, say) is box-averaged
    down to it; any other size is refused, because stretching or cropping a scene would move or cut its objects.
    """
    channels, height, width = shape
    out = []
    for path in paths:
        pixels = read_pixels(path, channels=1 if channels == 1 else 3)
        h, w = pixels.shape[:2]
        if (w, h) != (width, height):
            factor = w // width
            if w != h or height != width or w % width or factor < 1:
                raise UserError(
                    f"{path} is {w}x{h}; {reader} reads {width}x{height} scenes (or squares of a whole "
                    f"multiple of {width}, averaged down); crop or pad it to that"
                )
            pixels = pixels.reshape(height, factor, width, factor, *pixels.shape[2:]).mean(axis=(1, 3))
        out.append(pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1))
    return np.stack(out)
