"""DVC stage `register@<model>`: the ONNX model into the MLflow registry; challenger always, champion if it
beats the champion's test accuracy and passes its robustness gate (robustness.gates), if it has one."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key)")
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True, help="the evaluate stage's metrics.json")
    parser.add_argument("--robustness", type=Path, required=True, help="the robustness stage's metrics")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage=f"register@{args.name}")
    from visionops.classifier.register import register_stage

    register_stage(
        name=args.name,
        onnx=args.onnx,
        metrics=args.metrics,
        robustness_path=args.robustness,
        data=args.data,
        out=args.out,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
