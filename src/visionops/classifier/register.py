"""The register stage's work: the ONNX classifier into the MLflow registry, judged by its promotion rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from visionops.core.errors import UserError


def register_stage(
    *, name: str, onnx: Path, metrics: Path, robustness_path: Path, data: Path, out: Path, params: Any, root: Path
) -> None:
    """Register the ONNX classifier of pipeline model `name`; its rule may ask for floors on PGD accuracy too."""
    import mlflow

    from visionops.core import promotion, tracking
    from visionops.data.prepare import load_prepared

    rule = params.promotion_rule(name)
    try:
        accuracy = float(json.loads(metrics.read_text())["accuracy"])
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{metrics} has no test accuracy ({exc}); run dvc repro evaluate@{name}") from None
    try:
        robustness = json.loads(robustness_path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {robustness_path} ({exc}); run dvc repro robustness") from None
    measured = {"test_accuracy": accuracy}
    tags = {"git_commit": tracking.git_commit(root), "data_version": tracking.data_version(root)}
    pgd = robustness.get(name, {}).get("pgd_headline")
    if pgd is not None:
        measured["pgd_accuracy"] = pgd
        tags["pgd_accuracy"] = f"{pgd:.6f}"
        tags["pgd_eps"] = str(robustness.get("headline_eps"))
    example = (load_prepared(data).test_x[:4].float() / 255.0).numpy()
    stage = f"register@{name}"
    with tracking.stage_run(stage, params.tracking, root) as run, promotion.registry_lock(root):
        mlflow.log_metrics(measured)
        tags["run_id"] = run.info.run_id
        result = promotion.register_onnx(
            onnx, rule=rule, registry=params.registry, metrics=measured, example=example, tags=tags
        )
        promotion.record(stage, result, out)
