"""The fault suite's cases: each bad input or fault, what is tried, and the one line that must answer it.

`python tests/reliability/cases.py --write` puts the table of these cases into the README's reliability section
(tests/reliability/test_faults.py checks that it is there, unchanged).
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- fault-suite:begin -->", "<!-- fault-suite:end -->"


@dataclass(frozen=True)
class Case:
    """`argv` runs `visionops <argv>` (or `python -m <module> <argv>`) in the finished tiny project; `{name}` in it is
    a file that `files` makes in a scratch folder. The single stderr line must match `expect` (on exit 0, the
    output must)."""

    id: str
    fault: str
    argv: tuple[str, ...]
    expect: str
    files: Callable[[Path], dict[str, Path]] = lambda scratch: {}
    exit: int = 2
    env: dict[str, str] = field(default_factory=dict)
    module: str = "visionops.cli"
    edits_params: bool = False  # writes params.yaml (a valid override); the suite restores it afterwards


def _png(path: Path, pixels: np.ndarray, mode: str | None = None) -> Path:
    from PIL import Image

    Image.fromarray(pixels, mode=mode).save(path)
    return path


def _header_only_png(path: Path, side: int) -> Path:
    """A PNG that claims side x side pixels in a few bytes: what a decompression bomb looks like to a reader."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def _item(scratch: Path, name: str = "item.png", side: int = 28) -> Path:
    yy, xx = np.mgrid[:side, :side]
    blob = (((yy - side / 2) ** 2 + (xx - side / 3) ** 2) < (side / 3) ** 2).astype(np.uint8) * 220
    return _png(scratch / name, blob)


def _bomb(scratch: Path) -> dict[str, Path]:
    return {"bomb": _header_only_png(scratch / "bomb.png", 20000)}


def _big(scratch: Path) -> dict[str, Path]:
    return {"big": _header_only_png(scratch / "big.png", 5000)}


def _truncated(scratch: Path) -> dict[str, Path]:
    data = _png(scratch / "full.png", np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    blob = data.read_bytes()
    (scratch / "cut.png").write_bytes(blob[: len(blob) // 2])
    return {"cut": scratch / "cut.png"}


def _empty(scratch: Path) -> dict[str, Path]:
    (scratch / "empty.png").write_bytes(b"")
    return {"empty": scratch / "empty.png"}


def _text(scratch: Path) -> dict[str, Path]:
    (scratch / "notes.png").write_text("not an image\n")
    return {"text": scratch / "notes.png"}


def _animated(scratch: Path) -> dict[str, Path]:
    from PIL import Image

    frames = [Image.new("L", (28, 28), v) for v in (0, 255)]
    frames[0].save(scratch / "anim.gif", save_all=True, append_images=frames[1:])
    return {"anim": scratch / "anim.gif"}


def _float_tiff(scratch: Path) -> dict[str, Path]:
    return {"float": _png(scratch / "float.tif", np.random.default_rng(0).random((28, 28), dtype=np.float32))}


def _sixteen_bit(scratch: Path) -> dict[str, Path]:
    item = np.asarray(_png_pixels(_item(scratch)), dtype=np.uint16) * 257
    return {"deep": _png(scratch / "deep.png", item)}


def _png_pixels(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img)


def _rgba(scratch: Path) -> dict[str, Path]:
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    gray = _png_pixels(_item(scratch))
    rgba[..., :3], rgba[..., 3] = 255, gray  # white everywhere, opaque only on the item
    return {"rgba": _png(scratch / "cutout.png", rgba, "RGBA")}


def _item_file(scratch: Path) -> dict[str, Path]:
    return {"item": _item(scratch)}


def _not_onnx(scratch: Path) -> dict[str, Path]:
    (scratch / "model.onnx").write_text("not a model\n")
    return {"model": scratch / "model.onnx", "item": _item(scratch)}


def _scene_sized(scratch: Path) -> dict[str, Path]:
    return {"item": _item(scratch), "scene": _item(scratch, "scene.png", 56), "bomb": _bomb(scratch)["bomb"]}


def _folder(scratch: Path) -> dict[str, Path]:
    (scratch / "folder").mkdir()
    return {"folder": scratch / "folder", "item": _item(scratch)}


PIXELS = r"16,777,216 pixels.*scale it down first"
UNREADABLE = r"not a readable image .*give a PNG or JPEG"

CASES: tuple[Case, ...] = (
    # images, through every command that reads one
    Case("predict-bomb", "a 20000x20000 PNG of a few hundred bytes", ("predict", "{bomb}"), PIXELS, _bomb),
    Case("predict-big", "a 5000x5000 PNG (decodable, but far too large)", ("predict", "{big}"), PIXELS, _big),
    Case("predict-truncated", "a PNG cut in half", ("predict", "{cut}"), UNREADABLE, _truncated),
    Case("predict-empty", "an empty file", ("predict", "{empty}"), UNREADABLE, _empty),
    Case("predict-text", "a text file named .png", ("predict", "{text}"), UNREADABLE, _text),
    Case(
        "predict-folder",
        "a folder given as an image",
        ("predict", "{folder}"),
        r"is a folder; give an image file",
        _folder,
    ),
    Case("predict-missing", "an image that does not exist", ("predict", "nope.png"), r"nope.png: no such file"),
    Case(
        "predict-animated",
        "an animated GIF",
        ("predict", "{anim}"),
        r"has 2 frames; extract the one you mean",
        _animated,
    ),
    Case("predict-float", "a floating-point TIFF", ("predict", "{float}"), r"floating-point pixels", _float_tiff),
    Case(
        "predict-16bit",
        "a 16-bit PNG (fine: scaled, not clipped)",
        ("predict", "{deep}"),
        r"deep.png\t\S+\t",
        _sixteen_bit,
        exit=0,
    ),
    Case(
        "predict-rgba",
        "an RGBA PNG on a transparent background (fine, with a note)",
        ("predict", "{rgba}"),
        r"composited on black",
        _rgba,
        exit=0,
    ),
    Case(
        "predict-model-missing",
        "--model naming no file",
        ("predict", "{item}", "--model", "none.onnx"),
        r"none.onnx is missing",
        _item_file,
    ),
    Case(
        "predict-model-garbage",
        "--model naming a file that is not ONNX",
        ("predict", "{item}", "--model", "{model}"),
        r"is not a loadable ONNX model",
        _not_onnx,
    ),
    Case(
        "predict-model-folder",
        "--model naming a folder",
        ("predict", "{item}", "--model", "{folder}"),
        r"is a folder; give the .onnx file",
        _folder,
    ),
    Case(
        "predict-threads",
        "--threads -1",
        ("predict", "{item}", "--threads", "-1"),
        r"--threads -1: give a number of threads >= 1",
        _item_file,
    ),
    Case("attack-bomb", "attack: a 20000x20000 PNG", ("attack", "{bomb}"), PIXELS, _bomb),
    Case(
        "attack-eps",
        "attack: --eps 2",
        ("attack", "{item}", "--eps", "2"),
        r"--eps 2.0 is outside \[0, 1\]",
        _item_file,
    ),
    Case("attack-steps", "attack: --steps 0", ("attack", "{item}", "--steps", "0"), r"at least one step", _item_file),
    Case(
        "attack-out-folder",
        "attack: --out naming a folder",
        ("attack", "{item}", "--out", "{folder}"),
        r"is a folder; give the name of the PNG",
        _folder,
    ),
    Case(
        "attack-out-suffix",
        "attack: --out adv.jpg",
        ("attack", "{item}", "--out", "adv.jpg"),
        r"written as PNG; give a name ending in .png",
        _item_file,
    ),
    Case(
        "attack-label",
        "attack: --label naming no class",
        ("attack", "{item}", "--label", "hat"),
        r"--label 'hat' is not a class of this model",
        _item_file,
    ),
    Case("caption-bomb", "caption: a 20000x20000 PNG", ("caption", "{bomb}"), PIXELS, _scene_sized),
    Case(
        "caption-size",
        "caption: a 28x28 image for a 56x56 scene captioner",
        ("caption", "{item}"),
        r"is 28x28; the captioner reads 56x56 scenes",
        _scene_sized,
    ),
    Case(
        "caption-beam",
        "caption: --beam 0",
        ("caption", "{scene}", "--beam", "0"),
        r"--beam 0: the beam width",
        _scene_sized,
    ),
    Case(
        "caption-model",
        "caption: --model naming a folder without the ONNX pair",
        ("caption", "{scene}", "--model", "{folder}"),
        r"missing",
        lambda s: {**_scene_sized(s), **_folder(s)},
    ),
    Case("segment-bomb", "segment: a 20000x20000 PNG", ("segment", "{bomb}", "--out", "map.png"), PIXELS, _bomb),
    Case(
        "segment-animated",
        "segment: an animated GIF",
        ("segment", "{anim}", "--out", "map.png"),
        r"has 2 frames; extract the one you mean first",
        _animated,
    ),
    Case(
        "segment-out-suffix",
        "segment: --out map.jpg",
        ("segment", "{scene}", "--out", "map.jpg"),
        r"written as PNG; give a name ending in .png",
        _scene_sized,
    ),
    Case("detect-bomb", "detect: a 20000x20000 PNG", ("detect", "{bomb}"), PIXELS, _bomb),
    Case(
        "detect-out-suffix",
        "detect: --out found.jpg",
        ("detect", "{scene}", "--out", "found.jpg"),
        r"give one image and a name ending in .png",
        _scene_sized,
    ),
    Case(
        "detect-score",
        "detect: --score 1.5",
        ("detect", "{scene}", "--score", "1.5"),
        r"--score 1.5: give a score threshold between 0 and 1",
        _scene_sized,
    ),
    Case("ask-bomb", "ask: a 20000x20000 PNG", ("ask", "{bomb}", "is there a bag?"), PIXELS, _bomb),
    Case(
        "ask-unknown-word",
        "ask: a word outside the vocabulary",
        ("ask", "{scene}", "what colour is the bag?"),
        r"'colour' is not a word the model knows",
        _scene_sized,
    ),
    Case(
        "sample-seed-negative",
        "sample: --seed -1",
        ("sample", "grid.png", "--seed", "-1"),
        r"--seed -1: a seed is a whole number from 0",
    ),
    Case(
        "sample-seed-huge",
        "sample: --seed 2**40",
        ("sample", "grid.png", "--seed", str(2**40)),
        r"a seed is a whole number from 0 to 4294967295",
    ),
    Case("sample-n", "sample: --n 0", ("sample", "grid.png", "--n", "0"), r"--n must be between 1 and 4096"),
    Case("sample-suffix", "sample: an output that is not .png", ("sample", "grid.jpg"), r"give a name ending in .png"),
    Case(
        "sample-label",
        "sample: --label naming no class",
        ("sample", "grid.png", "--label", "hat"),
        r"unknown class 'hat'",
    ),
    # params and the pipeline
    Case(
        "run-unknown-key",
        "run -S with a key params.yaml does not have",
        ("run", "-S", "classifier.epoch=3"),
        r"unknown key 'classifier.epoch'",
    ),
    Case(
        "run-seed",
        "run -S classifier.seed=99999999999",
        ("run", "-S", "classifier.seed=99999999999"),
        r"classifier.seed: Input should be less than 4294967296",
    ),
    Case(
        "run-limit",
        "run -S classifier.limit_train_batches=1.5",
        ("run", "-S", "classifier.limit_train_batches=1.5"),
        r"fraction of an epoch in \(0, 1\]",
    ),
    Case(
        "run-accelerator",
        "run -S classifier.accelerator=gpus",
        ("run", "-S", "classifier.accelerator=gpus"),
        r"classifier.accelerator: Input should be 'auto', 'cpu'",
    ),
    Case(
        "run-strategy",
        "run -S classifier.strategy=dpp",
        ("run", "-S", "classifier.strategy=dpp"),
        r"classifier.strategy: Input should be 'auto', 'ddp'",
    ),
    Case(
        "run-retries",
        "run -S with retries for a stage dvc.yaml does not have",
        ("run", "-S", "schedule.stage_retries={trian: 1}"),
        r"stage_retries names 'trian', which is no stage",
    ),
    Case(
        "run-override-syntax",
        "run -S without '='",
        ("run", "-S", "classifier.epochs"),
        r"must look like section.key=value",
    ),
    Case("run-budget", "run --budget naming no budget", ("run", "--budget", "huge"), r"invalid choice: 'huge'"),
    Case(
        "stage-empty-mirror",
        "fetch with VISIONOPS_FMNIST_DIR set but empty",
        ("--out", "data/raw"),
        r"VISIONOPS_FMNIST_DIR is set but empty",
        env={"VISIONOPS_FMNIST_DIR": ""},
        module="visionops.stages.fetch",
    ),
    Case(
        "stage-missing-mirror",
        "fetch with VISIONOPS_FMNIST_DIR naming no folder",
        ("--out", "data/raw"),
        r"is not a folder; point it at the folder",
        env={"VISIONOPS_FMNIST_DIR": "/nonexistent"},
        module="visionops.stages.fetch",
    ),
    Case(
        "stage-unknown-section",
        "a stage given a section params.yaml does not have",
        (
            "--name",
            "standard",
            "--section",
            "classifer",
            "--data",
            "data/prepared",
            "--checkpoints",
            "data/checkpoints/standard",
            "--model",
            "data/models/standard/classifier.pt",
            "--metrics",
            "reports/standard/train.json",
        ),
        r"'classifer' is not a classifier section",
        module="visionops.stages.train",
    ),
)


def table() -> str:
    rows = ["| case | the fault | exit | the answer (pattern of its one line) |", "| --- | --- | --- | --- |"]
    for case in CASES:
        answer = case.expect.replace("|", "\\|").replace("\\(", "(").replace("\\)", ")").replace("\\[", "[")
        answer = " ".join(answer.replace("\\]", "]").replace("\\t", " ").replace(".*", " … ").split())
        rows.append(f"| `{case.id}` | {case.fault} | {case.exit} | {answer} |")
    return "\n".join(rows)


def readme_section(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip()


if __name__ == "__main__":
    if "--write" in sys.argv:
        text = README.read_text()
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
        README.write_text(f"{text[:start]}\n{table()}\n{text[end:]}")
    print(table())
