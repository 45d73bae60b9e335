"""DVC stage `caption_train@<model>`: fit one captioner on the train scenes (validated on the val scenes), log to
MLflow, save the captioner with its vocabulary."""

from __future__ import annotations

import hashlib
from pathlib import Path

from visionops.errors import exits_cleanly
from visionops.stages import stage_parser, start
from visionops.stages.train import _quiet_lightning


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key): show_tell, attention")
    parser.add_argument("--section", required=True, help="its params.yaml section: captioner, attention_captioner")
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--classifier", type=Path, required=True, help="the classifier whose trunk may be the encoder")
    parser.add_argument("--checkpoints", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start(args)
    section = params.captioner_section(args.section)
    _quiet_lightning()

    import mlflow
    from pytorch_lightning.loggers import MLFlowLogger

    from visionops import tracking
    from visionops.config import flatten
    from visionops.io import atomic_save, atomic_write_json
    from visionops.models.io import load_model, save_model
    from visionops.scenes.compose import load_split
    from visionops.stages.scenes import MANIFEST_FILE
    from visionops.training.caption_fit import fit_captioner

    train, val = load_split(args.scenes, "train"), load_split(args.scenes, "val")
    manifest = args.scenes / MANIFEST_FILE
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    classifier = load_model(args.classifier) if section.encoder == "classifier" else None
    mean, std = (classifier[1]["mean"], classifier[1]["std"]) if classifier else _pixel_stats(train.images)
    with tracking.stage_run(f"caption_train@{args.name}", params.tracking, root) as run:
        logger = MLFlowLogger(
            experiment_name=params.tracking.experiment,
            run_id=run.info.run_id,
            tracking_uri=tracking.tracking_uri(params.tracking, root),
            log_model=False,
        )
        mlflow.log_params(flatten({"scenes": params.scenes.model_dump(), args.section: section.model_dump()}))
        mlflow.set_tag("model", args.name)
        result = fit_captioner(section, train, val, mean, std, classifier, args.checkpoints, digest, args.section,
                               logger=logger)
        atomic_save(args.model, lambda tmp: save_model(tmp, result.spec, result.state_dict))
        metrics = {**result.metrics, "train_scenes": len(train.images)}
        atomic_write_json(args.metrics, metrics)
        tracking.log_json_metrics(metrics, prefix="summary/")
        if result.resumed_from:
            mlflow.set_tag("resumed_from", result.resumed_from)
    print(f"caption_train@{args.name}: {metrics['epochs']} epochs in {metrics['fit_seconds']:.0f}s "
          f"(val word accuracy {metrics.get('val_word_acc', float('nan')):.3f}), model in {args.model}")


def _pixel_stats(images: "np.ndarray") -> tuple[float, float]:  # noqa: F821
    sample = images[:2000].astype("float64") / 255.0
    return float(sample.mean()), float(sample.std())


if __name__ == "__main__":
    main()
