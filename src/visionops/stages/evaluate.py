"""DVC stage `evaluate@<model>`: the shipped ONNX model on the test set through onnxruntime, with plots and
explanations."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key)")
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--int8", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True, help="torch weights, for the attribution maps")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for predictions.csv and the figures")
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage=f"evaluate@{args.name}")
    from visionops.classifier.evaluate import evaluate_stage

    evaluate_stage(
        name=args.name,
        onnx=args.onnx,
        int8=args.int8,
        model=args.model,
        data_path=args.data,
        out_path=args.out,
        metrics_path=args.metrics,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
