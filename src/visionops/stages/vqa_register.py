"""DVC stage `vqa_register@<model>`: the ONNX VQA network into the MLflow registry (`visionops-vqa`); challenger
always, champion if its test and held-out accuracy pass its rule in promotion.<model>."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key)")
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True, help="the vqa_evaluate stage's metrics")
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage=f"vqa_register@{args.name}")
    from visionops.vqa.register import register_stage

    register_stage(
        name=args.name,
        onnx=args.onnx,
        metrics_path=args.metrics,
        scenes=args.scenes,
        questions=args.questions,
        out=args.out,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
