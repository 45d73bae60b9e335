"""DVC stage `train@<model>`: fit one classifier on the device-resident data, log to MLflow, save the best weights."""

from __future__ import annotations

import argparse
from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


def _parser() -> argparse.ArgumentParser:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key): standard, robust")
    parser.add_argument("--section", required=True, help="its params.yaml section: classifier, robust_classifier")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--checkpoints", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    return parser


def launches_processes(argv: list[str]) -> bool:
    """Whether Lightning will start processes of its own (DDP re-runs the command line): then the pipeline runs this
    stage as its own process, not in a worker."""
    args = _parser().parse_args(argv)
    params, _ = start_stage(args, stage=f"train@{args.name}")
    from visionops.classifier.fit import launches_processes as classifier_launches
    from visionops.classifier.params import ClassifierParams

    return classifier_launches(params.section(args.section, ClassifierParams))


@stage_main
def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
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
