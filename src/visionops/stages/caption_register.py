"""DVC stage `caption_register@<model>`: the encoder/decoder_step pair into the MLflow registry as one pyfunc
model; challenger always, champion if its test truthfulness beats the champion's and clears the gate."""

from __future__ import annotations

import json
from pathlib import Path

from visionops.errors import UserError, exits_cleanly
from visionops.stages import stage_parser, start


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key)")
    parser.add_argument("--folder", type=Path, required=True, help="holding encoder.onnx and decoder_step.onnx")
    parser.add_argument("--metrics", type=Path, required=True, help="the caption_evaluate stage's metrics")
    parser.add_argument("--scenes", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start(args)
    settings = params.caption_evaluation

    import mlflow
    import numpy as np

    from visionops import tracking
    from visionops.captioning.runtime import ENCODER_FILE, STEP_FILE, load_ort_captioner
    from visionops.captioning.serving import log_captioner
    from visionops.io import atomic_write_json
    from visionops.registry import TRUTHFULNESS_TAG, promote_version, registered_name
    from visionops.scenes.compose import load_split

    model_name = registered_name(params.tracking.registered_models, args.name)
    try:
        report = json.loads(args.metrics.read_text())[args.name]
        test, heldout = report["test"]["beam"], report["heldout"]["beam"]
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{args.metrics} has no metrics for '{args.name}' ({exc}); run dvc repro caption_evaluate") from None
    truth = test["truthfulness"]
    passed = truth >= settings.gate_truthfulness
    gate = (passed, f"truthfulness {truth:.4f} {'>=' if passed else '<'} gate {settings.gate_truthfulness}")
    example = load_split(args.scenes, "test").images[:4].astype(np.float32) / 255.0
    captions = load_ort_captioner(args.folder).caption(example)
    tags = {"git_commit": tracking.git_commit(root), "data_version": tracking.data_version(root), "model": args.name,
            "bleu_4": f"{test['bleu_4']:.6f}", "cider_d": f"{test['cider_d']:.6f}",
            "heldout_truthfulness": f"{heldout['truthfulness']:.6f}"}
    with tracking.stage_run(f"caption_register@{args.name}", params.tracking, root) as run:
        mlflow.log_metrics({"truthfulness": truth, "bleu_4": test["bleu_4"], "heldout_truthfulness": heldout["truthfulness"]})
        tags["run_id"] = run.info.run_id
        version = log_captioner(args.folder / ENCODER_FILE, args.folder / STEP_FILE, model_name, example, captions)
        result = promote_version(model_name, version, truth, settings.promotion_margin, tags, gate,
                                 score_tag=TRUTHFULNESS_TAG)
        mlflow.set_tags({"registered_version": result.version, "promoted": str(result.promoted)})
    atomic_write_json(args.out, result.__dict__)
    verdict = ("promoted to champion" if result.promoted else
               f"champion stays version {result.champion_version}" if result.champion_version else "no champion yet")
    print(f"caption_register@{args.name}: {result.name} version {result.version} is challenger; {verdict} ({result.reason})")


if __name__ == "__main__":
    main()
