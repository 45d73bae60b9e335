"""DVC stage `detect_evaluate`: every detector and the R-CNN baseline through onnxruntime on the test scenes (box and
mask mAP, AP per class and by size, scenes per second), with their detections over the truth."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--models", type=Path, nargs="+", required=True, help="folders holding detector.onnx")
    parser.add_argument(
        "--classifier", type=Path, required=True, help="the classifier.onnx that scores the R-CNN baseline's regions"
    )
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage="detect_evaluate")
    from visionops.detection.evaluate import evaluate_stage

    evaluate_stage(
        models=args.models,
        classifier=args.classifier,
        scenes=args.scenes,
        out=args.out,
        metrics_path=args.metrics,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
