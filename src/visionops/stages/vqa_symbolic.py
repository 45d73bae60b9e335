"""DVC stage `vqa_symbolic`: the neuro-symbolic reader. The ONNX detector turns each test and held-out scene into
items and every question's program runs over them; each wrong answer is traced to the scene it misread."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--detector", type=Path, required=True, help="the detect_export stage's detector.onnx")
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage="vqa_symbolic")
    from visionops.vqa.symbolic import symbolic_stage

    symbolic_stage(
        scenes=args.scenes,
        questions=args.questions,
        detector=args.detector,
        metrics_path=args.metrics,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
