"""DVC stage `vqa_evaluate`: every exported VQA network through onnxruntime on the test and held-out questions,
beside the neuro-symbolic reader: accuracy overall, per type and per answer, the held-out gap, figures."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--models", type=Path, nargs="+", required=True, help="folders holding vqa.onnx")
    parser.add_argument("--symbolic", type=Path, required=True, help="the vqa_symbolic stage's report")
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage="vqa_evaluate")
    from visionops.vqa.evaluate import evaluate_stage

    evaluate_stage(
        models=args.models,
        symbolic=args.symbolic,
        scenes=args.scenes,
        questions=args.questions,
        out_path=args.out,
        metrics=args.metrics,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
