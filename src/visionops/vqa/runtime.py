"""A VQA network through onnxruntime alone: scene pixels and question words in, answers and their probabilities out.

The ONNX file takes `image` [batch, C, H, W] float32 in [0, 1] (not the blind model, which reads no image) and
`question` [batch, length] int64 token ids, and gives `answer_logits` [batch, answers]; its metadata holds the
vocabulary and the answers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from visionops.core.errors import UserError

IMAGE, QUESTION, LOGITS = "image", "question", "answer_logits"
META_KEY = "visionops.vqa"  # JSON: vocab, answers, image_shape, model
FILENAME = "vqa.onnx"


@dataclass
class OrtVQA:
    session: object
    meta: dict

    @property
    def reads_image(self) -> bool:
        return any(i.name == IMAGE for i in self.session.get_inputs())

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.meta["image_shape"])

    def logits(self, images: np.ndarray | None, tokens: np.ndarray) -> np.ndarray:
        feeds = {QUESTION: tokens.astype(np.int64)}
        if self.reads_image:
            feeds[IMAGE] = np.ascontiguousarray(images, np.float32)
        return self.session.run([LOGITS], feeds)[0]

    def answer(
        self, images: np.ndarray | None, questions: Sequence[str], batch_size: int = 1000
    ) -> tuple[list[str], np.ndarray]:
        """The most probable answer to each question about the image beside it, and its probability."""
        from visionops.core.ort import softmax
        from visionops.vqa.encoding import encode

        tokens = encode(questions, self.meta["vocab"])
        probs = []
        for i in range(0, len(tokens), batch_size):
            batch = tokens[i : i + batch_size]
            batch = batch[:, : max(1, int((batch != 0).sum(1).max()))]
            probs.append(softmax(self.logits(None if images is None else images[i : i + batch_size], batch)))
        p = np.concatenate(probs) if probs else np.zeros((0, len(self.meta["answers"])), np.float32)
        return [self.meta["answers"][k] for k in p.argmax(1)], p.max(1) if len(p) else np.zeros(0)


def load_ort_vqa(path: str | Path, threads: int = 0) -> OrtVQA:
    from visionops.core.ort import session

    sess = session(path, threads, "run the vqa_export stage first (dvc repro vqa_export)")
    raw = sess.get_modelmeta().custom_metadata_map.get(META_KEY)
    if raw is None:
        raise UserError(f"{path} carries no vocabulary; export it with the vqa_export stage")
    return OrtVQA(sess, json.loads(raw))
