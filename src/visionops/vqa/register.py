"""The vqa_register stage's work: an ONNX VQA network into the MLflow registry, judged by its promotion rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from visionops.data.scenes.questions import QUESTION_TYPES


def register_stage(
    *, name: str, onnx: Path, metrics_path: Path, scenes: Path, questions: Path, out: Path, params: Any, root: Path
) -> None:
    """Register the ONNX network of pipeline model `name`; its test accuracy (vqa_evaluate) is the score."""
    import numpy as np

    from visionops.core.promotion import register_evaluated
    from visionops.data.scenes.compose import load_split
    from visionops.data.scenes.questions import load_questions
    from visionops.vqa.encoding import encode
    from visionops.vqa.runtime import IMAGE, QUESTION, load_ort_vqa

    ort = load_ort_vqa(onnx)
    first = load_questions(questions, "test")[:2]
    example = {QUESTION: encode([q["question"] for q in first], ort.meta["vocab"])}
    if ort.reads_image:
        example[IMAGE] = load_split(scenes, "test").images[[q["scene"] for q in first]].astype(np.float32) / 255.0
    register_evaluated(
        stage=f"vqa_register@{name}",
        name=name,
        onnx=onnx,
        metrics_path=metrics_path,
        keys=("accuracy", "heldout_accuracy", "heldout_gap", *(f"test_{k}" for k in QUESTION_TYPES)),
        example=example,
        params=params,
        root=root,
        out=out,
    )
