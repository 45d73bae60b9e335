"""The gan_register stage's work: the ONNX generator into the MLflow registry, judged by its promotion rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from visionops.core.errors import UserError


def register_stage(*, name: str, onnx: Path, metrics_path: Path, out: Path, params: Any, root: Path) -> None:
    """Register the ONNX generator of pipeline model `name` (its FD/floor is the score: lower is better)."""
    import mlflow

    from visionops.core import promotion, tracking
    from visionops.gan.export import generator_inputs
    from visionops.gan.model_file import load_generator
    from visionops.gan.sample import LABEL_NAME, NOISE_NAME

    rule = params.promotion_rule(name)
    try:
        metrics = json.loads(metrics_path.read_text())[name]
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{metrics_path} has no metrics for '{name}' ({exc}); run dvc repro gan_evaluate") from None
    generator, _ = load_generator(onnx.with_name("generator.pt"))
    example = {n: t.numpy() for n, t in zip((NOISE_NAME, LABEL_NAME), generator_inputs(generator, 4), strict=False)}
    tags = {"git_commit": tracking.git_commit(root), "data_version": tracking.data_version(root), "model": name}
    headline = {k: metrics[k] for k in ("fd_ratio", "precision", "recall", "conditional_accuracy") if k in metrics}
    tags.update({k: f"{v:.6f}" for k, v in headline.items() if k != rule.score})
    stage = f"gan_register@{name}"
    with tracking.stage_run(stage, params.tracking, root) as run, promotion.registry_lock(root):
        mlflow.log_metrics(headline)
        tags["run_id"] = run.info.run_id
        result = promotion.register_onnx(
            onnx, rule=rule, registry=params.registry, metrics=headline, example=example, tags=tags
        )
        promotion.record(stage, result, out)
