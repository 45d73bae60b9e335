"""DVC stage `gan_evaluate`: every generator judged in the trained classifier's feature space against the test
set (FD, KID, precision/recall, conditional accuracy, FD per class), beside the same metrics for real training
images (the floor), with sample grids, latent interpolations and a memorisation check."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--generators", type=Path, nargs="+", required=True, help="folders holding generator.pt")
    parser.add_argument(
        "--classifier", type=Path, required=True, help="the classifier whose features judge the samples"
    )
    parser.add_argument("--classifier-registry", type=Path, help="its register stage's output, for the version tag")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage="gan_evaluate")
    from visionops.gan.evaluate import evaluate_stage

    evaluate_stage(
        generator_folders=args.generators,
        classifier_path=args.classifier,
        classifier_registry=args.classifier_registry,
        data_path=args.data,
        out_path=args.out,
        metrics_path=args.metrics,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
