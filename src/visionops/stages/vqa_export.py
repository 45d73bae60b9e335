"""DVC stage `vqa_export@<model>`: one VQA network to ONNX (image + question token ids, dynamic batch and length ->
answer logits; vocabulary and answers in its metadata), refused unless onnxruntime matches torch on test questions."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key)")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage=f"vqa_export@{args.name}")
    from visionops.vqa.export import export_stage

    export_stage(
        name=args.name,
        model=args.model,
        scenes=args.scenes,
        questions=args.questions,
        onnx=args.onnx,
        metrics_path=args.metrics,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
