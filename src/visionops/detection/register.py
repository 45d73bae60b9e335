"""The detect_register stage's work: the ONNX detector into the MLflow registry, judged by its promotion rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def register_stage(
    *, name: str, onnx: Path, metrics_path: Path, scenes: Path, out: Path, params: Any, root: Path
) -> None:
    """Register the ONNX detector of pipeline model `name`; its test box mAP@0.5 (detect_evaluate) is the score."""
    import numpy as np

    from visionops.core.promotion import register_evaluated
    from visionops.data.scenes.cluttered import load_cluttered

    register_evaluated(
        stage=f"detect_register@{name}",
        name=name,
        onnx=onnx,
        metrics_path=metrics_path,
        keys=("box_map50", "box_map", "mask_map50", "mask_map", "images_per_second_batch1"),
        example=load_cluttered(scenes, "test").images[:1].astype(np.float32) / 255.0,  # the model's batch is 1
        params=params,
        root=root,
        out=out,
    )
