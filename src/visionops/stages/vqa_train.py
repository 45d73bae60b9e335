"""DVC stage `vqa_train@<model>`: fit one VQA network (blind, CNN+LSTM or FiLM) on the train questions, validated on
the val questions; log to MLflow; save it with its vocabulary and answers."""

from __future__ import annotations

from pathlib import Path

from visionops.core.stage import stage_main, stage_parser
from visionops.params import start_stage


@stage_main
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key): blind, cnn_lstm, film")
    parser.add_argument("--section", required=True, help="its params.yaml section: blind_vqa, cnn_lstm_vqa, vqa")
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--classifier", type=Path, required=True, help="the classifier whose trunk reads the scenes")
    parser.add_argument("--checkpoints", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start_stage(args, stage=f"vqa_train@{args.name}")
    from visionops.vqa.train import train_stage

    train_stage(
        name=args.name,
        section=args.section,
        scenes=args.scenes,
        questions=args.questions,
        classifier_path=args.classifier,
        checkpoints=args.checkpoints,
        model=args.model,
        metrics_path=args.metrics,
        params=params,
        root=root,
    )


if __name__ == "__main__":
    main()
