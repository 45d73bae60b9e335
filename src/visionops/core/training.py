"""A training stage's MLflow run around its fit: the section's params, the model file, the metrics file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class FitResult:
    """What a family's fit returns: the spec and weights to save, its metrics, and the checkpoint it resumed."""

    spec: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    metrics: dict[str, float]
    resumed_from: str | None


def fit_tracked(
    *,
    stage: str,
    name: str,
    section: str,
    settings: Any,
    params: Any,
    root: Path,
    model: Path,
    metrics_path: Path,
    fit: Callable[[Any], Any],
    extra_metrics: dict[str, float] | None = None,
) -> dict[str, float]:
    """Run `fit(logger)` inside the stage's MLflow run (Lightning's MLFlowLogger on that run) with `settings`, the
    params section `section`, logged; save its result (`spec`, `state_dict`, `metrics`, `resumed_from`) to `model`
    and its metrics, with `extra_metrics`, to `metrics_path`, each written whole or not at all. Returns the metrics."""
    import mlflow
    from pytorch_lightning.loggers import MLFlowLogger

    from visionops.core import tracking
    from visionops.core.config import flatten
    from visionops.core.io import atomic_save, atomic_write_json
    from visionops.core.model_file import save_model

    with tracking.stage_run(stage, params.tracking, root) as run:
        logger = MLFlowLogger(
            experiment_name=params.tracking.experiment,
            run_id=run.info.run_id,
            tracking_uri=tracking.tracking_uri(params.tracking, root),
            log_model=False,
        )
        mlflow.log_params(flatten({section: settings.model_dump()}))
        mlflow.set_tag("model", name)
        result = fit(logger)
        atomic_save(model, lambda tmp: save_model(tmp, result.spec, result.state_dict))
        metrics = {**result.metrics, **(extra_metrics or {})}
        atomic_write_json(metrics_path, metrics)
        tracking.log_json_metrics(metrics, prefix="summary/")
        if result.resumed_from:
            mlflow.set_tag("resumed_from", result.resumed_from)
    return metrics
