"""DVC stage `gan_register@<model>`: the ONNX generator into the MLflow registry; challenger always, champion if
its FD/floor is at most the champion's (less gan_evaluation.promotion_margin) and it passes its gate."""

from __future__ import annotations

import json
from pathlib import Path

from visionops.errors import UserError, exits_cleanly
from visionops.stages import stage_parser, start


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key)")
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True, help="the gan_evaluate stage's metrics")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start(args)

    import mlflow

    from visionops import tracking
    from visionops.export.onnx_export import generator_inputs
    from visionops.generation import LABEL_NAME, NOISE_NAME
    from visionops.io import atomic_write_json
    from visionops.models.io import load_generator
    from visionops.registry import FD_RATIO_TAG, generator_gate, register_onnx, registered_name

    model_name = registered_name(params.tracking.registered_models, args.name)
    try:
        metrics = json.loads(args.metrics.read_text())[args.name]
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{args.metrics} has no metrics for '{args.name}' ({exc}); run dvc repro gan_evaluate") from None
    gate = generator_gate(metrics, params.gan_evaluation.gates.get(args.name))
    generator, _ = load_generator(args.onnx.with_name("generator.pt"))
    example = {n: t.numpy() for n, t in zip((NOISE_NAME, LABEL_NAME), generator_inputs(generator, 4), strict=False)}
    tags = {"git_commit": tracking.git_commit(root), "data_version": tracking.data_version(root), "model": args.name}
    headline = {k: metrics[k] for k in ("fd_ratio", "precision", "recall", "conditional_accuracy") if k in metrics}
    tags.update({k: f"{v:.6f}" for k, v in headline.items() if k != FD_RATIO_TAG})
    with tracking.stage_run(f"gan_register@{args.name}", params.tracking, root) as run:
        mlflow.log_metrics(headline)
        tags["run_id"] = run.info.run_id
        result = register_onnx(
            args.onnx, model_name, metrics["fd_ratio"], params.gan_evaluation.promotion_margin, example, tags, gate,
            score_tag=FD_RATIO_TAG, higher_is_better=False,
        )
        mlflow.set_tags({"registered_version": result.version, "promoted": str(result.promoted)})
    atomic_write_json(args.out, result.__dict__)
    verdict = "promoted to champion" if result.promoted else f"champion stays version {result.champion_version}"
    print(f"gan_register@{args.name}: {result.name} version {result.version} is challenger; {verdict} ({result.reason})")


if __name__ == "__main__":
    main()
