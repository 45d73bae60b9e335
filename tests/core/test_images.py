"""The one image reader: limits checked before decoding, 16-bit scaled, alpha composited, animations refused."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from visionops.core.errors import UserError
from visionops.core.images import MAX_PIXELS, read_pixels


def _png_header_only(path, width, height):
    """A PNG whose header claims width x height, with one empty data chunk: enough for a reader that trusts it."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [5000, 20000])
def test_too_many_pixels_is_refused_from_the_header(tmp_path, side):
    path = tmp_path / "huge.png"
    _png_header_only(path, side, side)
    with pytest.raises(UserError, match=f"{MAX_PIXELS:,} pixels"):
        read_pixels(path)


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    values = np.linspace(0, 65535, 28 * 28).reshape(28, 28).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    pixels = read_pixels(tmp_path / "deep.png")
    assert pixels.shape == (28, 28)
    np.testing.assert_allclose(pixels, values / 65535.0, atol=1e-6)
    assert (pixels >= 0.999).mean() < 0.01  # clipped at 255 it would be 99% white


def test_transparency_is_composited_on_black_with_a_note(tmp_path, capsys):
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[..., :3] = 255  # white everywhere ...
    rgba[8:20, 8:20, 3] = 255  # ... but opaque only in the middle
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "cutout.png")
    pixels = read_pixels(tmp_path / "cutout.png")
    assert pixels[0, 0] == 0.0 and pixels[14, 14] == 1.0
    assert "composited on black" in capsys.readouterr().err


def test_an_animation_is_refused_naming_its_frames(tmp_path):
    frames = [Image.new("L", (28, 28), value) for value in (0, 255)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(UserError, match="has 2 frames"):
        read_pixels(tmp_path / "anim.gif")


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n\x00\x00", b"not an image at all"])
def test_damaged_files_get_one_line(tmp_path, content):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(UserError, match="not a readable image"):
        read_pixels(path)


def test_a_truncated_png_gets_one_line(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="not a readable image"):
        read_pixels(tmp_path / "cut.png")


def test_missing_files_and_folders(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_pixels(tmp_path / "nope.png")
    with pytest.raises(UserError, match="is a folder"):
        read_pixels(tmp_path)


def test_rgb_is_read_as_luma_or_kept(tmp_path):
    rgb = np.zeros((28, 28, 3), dtype=np.uint8)
    rgb[..., 1] = 255
    Image.fromarray(rgb).save(tmp_path / "green.png")
    assert read_pixels(tmp_path / "green.png").shape == (28, 28)
    assert read_pixels(tmp_path / "green.png", channels=3).shape == (28, 28, 3)


def test_a_photo_on_a_light_background_becomes_a_fashion_mnist_item():
    from visionops.core.images import as_fashion_item

    rng = np.random.default_rng(0)  # cream background with a photo's noise, a dark 60x120 item off-centre
    photo = np.clip(0.9 + rng.normal(0, 0.02, (240, 320)), 0, 1).astype(np.float32)
    photo[100:160, 40:160] = 0.2
    item, done = as_fashion_item(photo, (28, 28))
    assert done == [
        "light background (0.90) inverted",
        "levels stretched to a black background",
        "cropped to the item",
        "padded to 120x120",
        "resized to 28x28",
    ]
    assert item.shape == (28, 28)
    assert item[0].max() < 0.05 and item[-1].max() < 0.05  # the padding is black, Fashion-MNIST's background
    assert item[14].min() > 0.95  # the item fills the width, white on black
    assert abs(item[:, 14].mean() - 0.5) < 0.1  # and half the height: its aspect kept, not stretched


def test_an_image_already_in_the_training_form_is_left_as_it_is():
    from visionops.core.images import as_fashion_item

    image = np.zeros((28, 28), np.float32)
    image[5:20, 8:12] = 0.8
    item, done = as_fashion_item(image, (28, 28))
    assert done == [] and np.array_equal(item, image)
