"""The caption_train stage's work: fit one captioner on the train scenes (validated on the val scenes), log it to
MLflow, save it with its vocabulary."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from visionops.core.lightning import quiet_lightning


def train_stage(
    *,
    name: str,
    section_name: str,
    scenes: Path,
    classifier_path: Path,
    checkpoints: Path,
    model: Path,
    metrics_path: Path,
    params: Any,
    root: Path,
) -> None:
    """Train the captioner of params section `section_name` as pipeline model `name`."""
    from visionops.captioning.params import CaptionerParams

    section = params.section(section_name, CaptionerParams)
    quiet_lightning()

    import mlflow
    from pytorch_lightning.loggers import MLFlowLogger

    from visionops.captioning.fit import fit_captioner
    from visionops.classifier.model_file import load_classifier
    from visionops.core import tracking
    from visionops.core.config import flatten
    from visionops.core.io import atomic_save, atomic_write_json
    from visionops.core.model_file import save_model
    from visionops.data.scenes.compose import SCENE_MANIFEST_FILE, load_split

    train, val = load_split(scenes, "train"), load_split(scenes, "val")
    manifest = scenes / SCENE_MANIFEST_FILE
    classifier = load_classifier(classifier_path) if section.encoder == "classifier" else None
    # what a checkpoint resumes from: the scenes and, when it is the encoder, the classifier's weights
    digest = hashlib.sha256(manifest.read_bytes() + (classifier_path.read_bytes() if classifier else b"")).hexdigest()
    mean, std = (classifier[1]["mean"], classifier[1]["std"]) if classifier else _pixel_stats(train.images)
    with tracking.stage_run(f"caption_train@{name}", params.tracking, root) as run:
        logger = MLFlowLogger(
            experiment_name=params.tracking.experiment,
            run_id=run.info.run_id,
            tracking_uri=tracking.tracking_uri(params.tracking, root),
            log_model=False,
        )
        mlflow.log_params(flatten({section_name: section.model_dump()}))
        mlflow.set_tag("model", name)
        result = fit_captioner(
            section,
            train,
            val,
            mean=mean,
            std=std,
            classifier=classifier,
            ckpt_dir=checkpoints,
            data_digest=digest,
            section=section_name,
            logger=logger,
        )
        atomic_save(model, lambda tmp: save_model(tmp, result.spec, result.state_dict))
        metrics = {**result.metrics, "train_scenes": len(train.images)}
        atomic_write_json(metrics_path, metrics)
        tracking.log_json_metrics(metrics, prefix="summary/")
        if result.resumed_from:
            mlflow.set_tag("resumed_from", result.resumed_from)
    print(
        f"caption_train@{name}: {metrics['epochs']} epochs in {metrics['fit_seconds']:.0f}s "
        f"(val word accuracy {metrics.get('val_word_acc', float('nan')):.3f}), model in {model}"
    )


def _pixel_stats(images: np.ndarray) -> tuple[float, float]:  # noqa: F821
    sample = images[:2000].astype("float64") / 255.0
    return float(sample.mean()), float(sample.std())
