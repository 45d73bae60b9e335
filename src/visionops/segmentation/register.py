"""The segment_register stage's work: the ONNX segmenter into the MLflow registry, judged by its promotion rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from visionops.core.errors import UserError


def register_stage(
    *, name: str, onnx: Path, metrics_path: Path, scenes: Path, out: Path, params: Any, root: Path
) -> None:
    """Register the ONNX segmenter of pipeline model `name`; its test mIoU (segment_evaluate) is the score."""
    import mlflow
    import numpy as np

    from visionops.core import promotion, tracking
    from visionops.data.scenes.cluttered import load_cluttered

    rule = params.promotion_rule(name)
    try:
        report = json.loads(metrics_path.read_text())[name]
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{metrics_path} has no metrics for '{name}' ({exc}); run dvc repro segment_evaluate") from None
    measured = {k: float(report[k]) for k in ("miou", "pixel_accuracy", "images_per_second_batch1")}
    example = load_cluttered(scenes, "test").images[:2].astype(np.float32) / 255.0
    tags = {
        "git_commit": tracking.git_commit(root),
        "data_version": tracking.data_version(root),
        "model": name,
        **{k: f"{v:.6f}" for k, v in measured.items() if k != rule.score},
    }
    stage = f"segment_register@{name}"
    with tracking.stage_run(stage, params.tracking, root) as run, promotion.registry_lock(root):
        mlflow.log_metrics(measured)
        tags["run_id"] = run.info.run_id
        result = promotion.register_onnx(onnx, rule=rule, metrics=measured, example=example, tags=tags)
        promotion.record(stage, result, out)
