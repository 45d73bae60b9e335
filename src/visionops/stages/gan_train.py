"""DVC stage `gan_train@<model>`: fit one GAN (manual optimization, EMA of G), log losses and sample grids to
MLflow, save the EMA generator."""

from __future__ import annotations

import hashlib
from pathlib import Path

from visionops.errors import exits_cleanly
from visionops.stages import stage_parser, start
from visionops.stages.train import _quiet_lightning


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key): dcgan, cgan")
    parser.add_argument("--section", required=True, help="its params.yaml section: gan, conditional_gan")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--checkpoints", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--samples", type=Path, required=True, help="PNG of the fixed-noise samples after the last epoch")
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start(args)
    gan = params.gan_section(args.section)
    _quiet_lightning()
    import warnings

    warnings.filterwarnings("ignore", message="You passed in a `val_dataloader` but have no `validation_step`")

    import mlflow
    from pytorch_lightning.loggers import MLFlowLogger

    from visionops import tracking
    from visionops.config import flatten
    from visionops.data.prepare import MANIFEST_FILE, load_prepared
    from visionops.gan.plots import grid_image, save_png
    from visionops.io import atomic_save, atomic_write_json
    from visionops.models.io import save_model
    from visionops.training.gan_fit import fit_gan

    data = load_prepared(args.data)
    data_digest = hashlib.sha256((args.data / MANIFEST_FILE).read_bytes()).hexdigest()
    with tracking.stage_run(f"gan_train@{args.name}", params.tracking, root) as run:
        logger = MLFlowLogger(
            experiment_name=params.tracking.experiment,
            run_id=run.info.run_id,
            tracking_uri=tracking.tracking_uri(params.tracking, root),
            log_model=False,
        )
        mlflow.log_params(flatten({"data": params.data.model_dump(), args.section: gan.model_dump()}))
        mlflow.set_tag("model", args.name)
        result = fit_gan(gan, data, args.checkpoints, data_digest, args.section, logger=logger)
        atomic_save(args.model, lambda tmp: save_model(tmp, result.spec, result.state_dict))
        columns = len(data.classes) if gan.conditional else 10
        atomic_save(args.samples, lambda tmp: save_png(grid_image(result.samples, columns), tmp))
        metrics = {**result.metrics, "train_images": int(len(data.train_y))}
        atomic_write_json(args.metrics, metrics)
        tracking.log_json_metrics(metrics, prefix="summary/")
        mlflow.log_artifact(str(args.samples), "samples")
        if result.resumed_from:
            mlflow.set_tag("resumed_from", result.resumed_from)
    print(f"gan_train@{args.name}: {result.metrics['g_steps']} G steps in {result.metrics['fit_seconds']:.0f}s, "
          f"samples in {args.samples}")


if __name__ == "__main__":
    main()
