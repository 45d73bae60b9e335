"""DVC stage `caption_evaluate`: every captioner on the test scenes and on the held-out combinations, decoded
greedily in torch and in onnxruntime (which must agree) and by beam search in onnxruntime; BLEU-1..4, CIDEr-D,
ROUGE-L and truthfulness with its error types; example and attention figures."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument(
        "--captioners",
        type=Path,
        nargs="+",
        required=True,
        help="folders holding captioner.pt, encoder.onnx and decoder_step.onnx",
    )
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage="caption_evaluate")
    from visionops.captioning.evaluate import evaluate_stage

    evaluate_stage(
        captioners=args.captioners,
        scenes=args.scenes,
        out_path=args.out,
        metrics=args.metrics,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
