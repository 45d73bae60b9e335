"""The gan_train stage's work: fit one GAN, log losses and sample grids to MLflow, save the EMA generator."""

from __future__ import annotations

import hashlib
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
    samples: Path,
    metrics_path: Path,
    params: Any,
    root: Path,
) -> None:
    """Train the GAN of params section `section` as pipeline model `name`; save its EMA generator and samples."""
    from visionops.gan.params import GANParams

    gan = params.section(section, GANParams)
    quiet_lightning()
    import warnings

    warnings.filterwarnings("ignore", message="You passed in a `val_dataloader` but have no `validation_step`")

    import mlflow
    from pytorch_lightning.loggers import MLFlowLogger

    from visionops.core import tracking
    from visionops.core.config import flatten
    from visionops.core.io import atomic_save, atomic_write_json
    from visionops.core.model_file import save_model
    from visionops.data.prepare import MANIFEST_FILE, load_prepared
    from visionops.gan.fit import fit_gan
    from visionops.gan.plots import labelled_grid_figure

    data = load_prepared(data_path)
    data_digest = hashlib.sha256((data_path / MANIFEST_FILE).read_bytes()).hexdigest()
    with tracking.stage_run(f"gan_train@{name}", params.tracking, root) as run:
        logger = MLFlowLogger(
            experiment_name=params.tracking.experiment,
            run_id=run.info.run_id,
            tracking_uri=tracking.tracking_uri(params.tracking, root),
            log_model=False,
        )
        mlflow.log_params(flatten({section: gan.model_dump()}))
        mlflow.set_tag("model", name)
        result = fit_gan(gan, data, ckpt_dir=checkpoints, data_digest=data_digest, section=section, logger=logger)
        atomic_save(model, lambda tmp: save_model(tmp, result.spec, result.state_dict))
        columns = len(data.classes) if gan.conditional else 10
        kind = "one column per class" if gan.conditional else "unconditional"
        title = f"{name}: samples of the EMA generator from fixed noise ({kind}), epoch {result.metrics['epochs']}"
        labels = list(data.classes) if gan.conditional else []
        atomic_save(
            samples,
            lambda tmp: labelled_grid_figure(result.samples, columns, column_labels=labels, title=title, path=tmp),
        )
        metrics = {**result.metrics, "train_images": int(len(data.train_y))}
        atomic_write_json(metrics_path, metrics)
        tracking.log_json_metrics(metrics, prefix="summary/")
        mlflow.log_artifact(str(samples), "samples")
        if result.resumed_from:
            mlflow.set_tag("resumed_from", result.resumed_from)
    print(
        f"gan_train@{name}: {result.metrics['g_steps']} G steps in {result.metrics['fit_seconds']:.0f}s, "
        f"samples in {samples}"
    )
