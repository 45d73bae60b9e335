"""DVC stage `gan_train@<model>`: fit one GAN (manual optimization, EMA of G), log losses and sample grids to
MLflow, save the EMA generator."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key): dcgan, cgan")
    parser.add_argument("--section", required=True, help="its params.yaml section: gan, conditional_gan")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--checkpoints", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument(
        "--samples", type=Path, required=True, help="PNG of the fixed-noise samples after the last epoch"
    )
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage=f"gan_train@{args.name}")
    from visionops.gan.train import train_stage

    train_stage(
        name=args.name,
        section=args.section,
        data_path=args.data,
        checkpoints=args.checkpoints,
        model=args.model,
        samples=args.samples,
        metrics_path=args.metrics,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
