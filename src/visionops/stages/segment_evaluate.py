"""DVC stage `segment_evaluate`: every segmenter through onnxruntime on the test scenes (IoU per class, mIoU,
pixel accuracy, scenes per second), with its maps beside the truth."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--models", type=Path, nargs="+", required=True, help="folders holding segmenter.onnx")
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage="segment_evaluate")
    from visionops.segmentation.evaluate import evaluate_stage

    evaluate_stage(
        models=args.models, scenes=args.scenes, out=args.out, metrics_path=args.metrics, params=params, root=root
    )


if __name__ == "__main__":
    main()
