"""The train stage's work: fit one classifier on the device-resident data, log it to MLflow, save the best weights."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from visionops.core.lightning import quiet_lightning


def train_stage(
    *,
    name: str,
    section: str,
    data_path: Path,
    checkpoints: Path,
    model: Path,
    metrics_path: Path,
    params: Any,
    root: Path,
) -> None:
    """Train the classifier of params section `section` as pipeline model `name`."""
    from visionops.classifier.params import ClassifierParams

    classifier = params.section(section, ClassifierParams)
    quiet_lightning()

    import mlflow
    from pytorch_lightning.loggers import MLFlowLogger

    from visionops.classifier.fit import fit_classifier
    from visionops.core import tracking
    from visionops.core.config import flatten
    from visionops.core.io import atomic_save, atomic_write_json
    from visionops.core.model_file import save_model
    from visionops.data.prepare import MANIFEST_FILE, load_prepared

    data = load_prepared(data_path)
    data_digest = hashlib.sha256((data_path / MANIFEST_FILE).read_bytes()).hexdigest()
    if os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0":
        # a DDP worker that Lightning started: it trains its shard; rank 0 logs and writes the outputs
        fit_classifier(classifier, data, ckpt_dir=checkpoints, data_digest=data_digest, is_primary=False)
        return
    with tracking.stage_run(f"train@{name}", params.tracking, root) as run:
        logger = MLFlowLogger(
            experiment_name=params.tracking.experiment,
            run_id=run.info.run_id,
            tracking_uri=tracking.tracking_uri(params.tracking, root),
            log_model=False,
        )
        mlflow.log_params(flatten({"classifier": classifier.model_dump()}))
        mlflow.set_tag("model", name)
        result = fit_classifier(classifier, data, ckpt_dir=checkpoints, data_digest=data_digest, logger=logger)
        atomic_save(model, lambda tmp: save_model(tmp, result.spec, result.state_dict))
        metrics = {**result.metrics, "train_images": int(len(data.train_y))}
        atomic_write_json(metrics_path, metrics)
        tracking.log_json_metrics(metrics, prefix="summary/")
        mlflow.log_artifact(str(checkpoints / "best.ckpt"), "checkpoints")
        if result.resumed_from:
            mlflow.set_tag("resumed_from", result.resumed_from)
    best = ", ".join(
        f"{k.removesuffix('_best').replace('_', ' ')} {v:.4f}" for k, v in metrics.items() if k.endswith("_best")
    )
    print(
        f"train@{name}: {classifier.network}, best {best}, "
        f"torch test acc {metrics['test_acc_torch']:.4f} in {metrics['fit_seconds']:.0f}s"
    )
