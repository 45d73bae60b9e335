"""DVC stage `train@<model>`: fit one classifier on the device-resident data, log to MLflow, save the best weights."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from visionops.errors import exits_cleanly
from visionops.stages import stage_parser, start


def _quiet_lightning() -> None:
    """Keep the stage's log to what a user reads: hardware banners, tips and known deprecations go."""
    import logging
    import warnings

    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")
    warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key): standard, robust")
    parser.add_argument("--section", required=True, help="its params.yaml section: classifier, robust_classifier")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--checkpoints", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start(args)
    classifier = params.model_section(args.section)
    _quiet_lightning()

    import mlflow
    from pytorch_lightning.loggers import MLFlowLogger

    from visionops import tracking
    from visionops.config import flatten
    from visionops.data.prepare import MANIFEST_FILE, load_prepared
    from visionops.io import atomic_save, atomic_write_json
    from visionops.models.io import save_model
    from visionops.training.fit import fit_classifier

    data = load_prepared(args.data)
    data_digest = hashlib.sha256((args.data / MANIFEST_FILE).read_bytes()).hexdigest()
    if os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0":
        # a DDP worker that Lightning started: it trains its shard; rank 0 logs and writes the outputs
        fit_classifier(classifier, data, args.checkpoints, data_digest, is_primary=False)
        return
    with tracking.stage_run(f"train@{args.name}", params.tracking, root) as run:
        logger = MLFlowLogger(
            experiment_name=params.tracking.experiment,
            run_id=run.info.run_id,
            tracking_uri=tracking.tracking_uri(params.tracking, root),
            log_model=False,
        )
        mlflow.log_params(flatten({"data": params.data.model_dump(), "classifier": classifier.model_dump()}))
        mlflow.set_tag("model", args.name)
        result = fit_classifier(classifier, data, args.checkpoints, data_digest, logger=logger)
        atomic_save(args.model, lambda tmp: save_model(tmp, result.spec, result.state_dict))
        metrics = {**result.metrics, "train_images": int(len(data.train_y))}
        atomic_write_json(args.metrics, metrics)
        tracking.log_json_metrics(metrics, prefix="summary/")
        mlflow.log_artifact(str(args.checkpoints / "best.ckpt"), "checkpoints")
        if result.resumed_from:
            mlflow.set_tag("resumed_from", result.resumed_from)
    best = ", ".join(f"{k.removesuffix('_best').replace('_', ' ')} {v:.4f}" for k, v in metrics.items() if k.endswith("_best"))
    print(
        f"train@{args.name}: {classifier.network}, best {best}, "
        f"torch test acc {metrics['test_acc_torch']:.4f} in {metrics['fit_seconds']:.0f}s"
    )


if __name__ == "__main__":
    main()
