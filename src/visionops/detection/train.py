"""The detect_train stage's work: fit one detector on the cluttered scenes, log it to MLflow, save its weights."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from visionops.core.lightning import quiet_lightning


def train_stage(
    *,
    name: str,
    section: str,
    scenes: Path,
    classifier_path: Path,
    checkpoints: Path,
    model: Path,
    metrics_path: Path,
    params: Any,
    root: Path,
) -> None:
    """Train the detector of params section `section` as pipeline model `name` (with backbone: classifier, from the
    trunk of the classifier in `classifier_path`)."""
    from visionops.detection.params import DetectorParams

    detector = params.section(section, DetectorParams)
    quiet_lightning()

    import mlflow
    from pytorch_lightning.loggers import MLFlowLogger

    from visionops.classifier.model_file import load_trunk_source
    from visionops.core import tracking
    from visionops.core.config import flatten
    from visionops.core.io import atomic_save, atomic_write_json
    from visionops.core.model_file import save_model
    from visionops.data.scenes.cluttered import load_cluttered, scene_classes
    from visionops.data.scenes.compose import SCENE_MANIFEST_FILE
    from visionops.detection.fit import fit_detector

    splits = {name: load_cluttered(scenes, name) for name in ("train", "val")}
    classes = scene_classes(scenes)
    digest = hashlib.sha256((scenes / SCENE_MANIFEST_FILE).read_bytes())
    classifier = None
    if detector.backbone == "classifier":
        classifier = load_trunk_source(classifier_path, section)
        digest.update(classifier_path.read_bytes())  # a resumed run must start from these same weights
    with tracking.stage_run(f"detect_train@{name}", params.tracking, root) as run:
        logger = MLFlowLogger(
            experiment_name=params.tracking.experiment,
            run_id=run.info.run_id,
            tracking_uri=tracking.tracking_uri(params.tracking, root),
            log_model=False,
        )
        mlflow.log_params(flatten({section: detector.model_dump()}))
        mlflow.set_tag("model", name)
        result = fit_detector(
            detector,
            splits,
            classes,
            ckpt_dir=checkpoints,
            data_digest=digest.hexdigest(),
            section=section,
            classifier=classifier,
            logger=logger,
        )
        atomic_save(model, lambda tmp: save_model(tmp, result.spec, result.state_dict))
        metrics = {**result.metrics, "train_scenes": len(splits["train"])}
        atomic_write_json(metrics_path, metrics)
        tracking.log_json_metrics(metrics, prefix="summary/")
        if result.resumed_from:
            mlflow.set_tag("resumed_from", result.resumed_from)
    print(
        f"detect_train@{name}: {result.spec['architecture']}, val box mAP@0.5 {metrics['val_box_map50']:.4f} "
        f"in {metrics['fit_seconds']:.0f}s"
    )
