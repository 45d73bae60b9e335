"""The caption_register stage's work: the encoder/decoder_step pair into the MLflow registry as one pyfunc model,
judged by its promotion rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from visionops.core.errors import UserError


def register_stage(*, name: str, folder: Path, metrics: Path, scenes: Path, out: Path, params: Any, root: Path) -> None:
    """Register the ONNX pair in `folder` as one pyfunc model; its test truthfulness (beam search) is the score."""
    import mlflow
    import numpy as np

    from visionops.captioning.runtime import ENCODER_FILE, STEP_FILE, load_ort_captioner
    from visionops.captioning.serving import log_captioner
    from visionops.core import promotion, tracking
    from visionops.data.scenes.compose import load_split

    rule = params.promotion_rule(name)
    try:
        report = json.loads(metrics.read_text())[name]
        test, heldout = report["test"]["beam"], report["heldout"]["beam"]
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{metrics} has no metrics for '{name}' ({exc}); run dvc repro caption_evaluate") from None
    measured = {
        "truthfulness": test["truthfulness"],
        "bleu_4": test["bleu_4"],
        "cider_d": test["cider_d"],
        "heldout_truthfulness": heldout["truthfulness"],
    }
    example = load_split(scenes, "test").images[:4].astype(np.float32) / 255.0
    captions = load_ort_captioner(folder).caption(example)
    tags = {
        "git_commit": tracking.git_commit(root),
        "data_version": tracking.data_version(root),
        "model": name,
        **{k: f"{v:.6f}" for k, v in measured.items() if k != rule.score},
    }
    stage = f"caption_register@{name}"
    with tracking.stage_run(stage, params.tracking, root) as run, promotion.registry_lock(root):
        mlflow.log_metrics({k: measured[k] for k in ("truthfulness", "bleu_4", "heldout_truthfulness")})
        tags["run_id"] = run.info.run_id
        version = log_captioner(
            folder / ENCODER_FILE,
            folder / STEP_FILE,
            registered_name=rule.registered_model,
            example=example,
            captions=captions,
        )
        result = promotion.promote_version(version, rule=rule, registry=params.registry, metrics=measured, tags=tags)
        promotion.record(stage, result, out)
