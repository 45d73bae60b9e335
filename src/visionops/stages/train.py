"""DVC stage `train@<model>`: fit one classifier on the device-resident data, log to MLflow, save the best weights."""

from __future__ import annotations

from pathlib import Path

from visionops.core.errors import exits_cleanly
from visionops.core.stage import stage_parser
from visionops.params import start_stage


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
    params, root = start_stage(args, stage=f"train@{args.name}")
    from visionops.classifier.train import train_stage

    train_stage(
        name=args.name,
        section=args.section,
        data_path=args.data,
        checkpoints=args.checkpoints,
        model=args.model,
        metrics_path=args.metrics,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
