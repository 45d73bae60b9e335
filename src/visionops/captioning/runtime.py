"""The shipped captioner: encoder.onnx + decoder_step.onnx, decoded in Python over onnxruntime (no torch)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from visionops.captioning.decode import State, decode
from visionops.captioning.vocab import Vocab
from visionops.core.errors import UserError

ENCODER_FILE, STEP_FILE = "encoder.onnx", "decoder_step.onnx"
META_KEY = "visionops.captioner"  # JSON in both files: vocabulary, image shape, decoding defaults
IMAGE, MEMORY, H, C, TOKEN, LOGITS = "image", "memory", "h", "c", "token", "logits"


@dataclass
class OrtCaptioner:
    encoder: Any  # onnxruntime sessions
    step_session: Any
    vocab: Vocab
    meta: dict[str, Any]

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.meta["image_shape"])

    def start(self, images: np.ndarray) -> State:
        memory, h, c = self.encoder.run(None, {IMAGE: images.astype(np.float32, copy=False)})
        return {MEMORY: memory, H: h, C: c}

    def step(self, tokens: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        logits, h, c = self.step_session.run(
            None, step_feeds(self.step_session, token=tokens, h=state["h"], c=state["c"], memory=state["memory"])
        )
        return logits, {**state, "h": h, "c": c}

    def caption(self, images: np.ndarray, beam_width: int | None = None, batch_size: int = 500) -> list[str]:
        """Captions of float32 images [N, C, H, W] in [0, 1]; beam width 1 is greedy."""
        width = self.meta["beam_width"] if beam_width is None else beam_width
        ids = decode(
            self,
            images,
            bos=self.vocab.bos,
            eos=self.vocab.eos,
            max_length=self.meta["max_length"],
            beam_width=width,
            batch_size=batch_size,
        )
        return [self.vocab.decode(row) for row in ids]


def step_feeds(
    sess: Any, *, token: np.ndarray, h: np.ndarray, c: np.ndarray, memory: np.ndarray
) -> dict[str, np.ndarray]:
    """The step's inputs that the exported graph kept (Show and Tell's step does not read the memory)."""
    given = {TOKEN: token, H: h, C: c, MEMORY: memory}
    return {i.name: given[i.name] for i in sess.get_inputs()}


def load_ort_captioner(folder: str | Path, threads: int = 0) -> OrtCaptioner:
    """The pair in `folder` (encoder.onnx, decoder_step.onnx), as the caption_export stage writes it."""
    folder = Path(folder)
    return ort_captioner(folder / ENCODER_FILE, folder / STEP_FILE, threads)


def ort_captioner(encoder_path: Path, step_path: Path, threads: int = 0) -> OrtCaptioner:
    from visionops.core.ort import session

    encoder, step = session(encoder_path, threads), session(step_path, threads)
    raw = step.get_modelmeta().custom_metadata_map.get(META_KEY)
    if raw is None:
        raise UserError(f"{step_path} carries no vocabulary; export it with the caption_export stage")
    meta = json.loads(raw)
    return OrtCaptioner(encoder, step, Vocab(meta["vocab"]), meta)


def load_scene_images(paths: list[Path], shape: tuple[int, ...]) -> np.ndarray:
    """Decode files to float32 [N, C, H, W] in [0, 1] at the captioner's size (visionops.core.images.read_scenes)."""
    from visionops.core.images import read_scenes

    return read_scenes(paths, shape, reader="the captioner")
