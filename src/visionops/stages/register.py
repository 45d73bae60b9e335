"""DVC stage `register@<model>`: the ONNX model into the MLflow registry; challenger always, champion if it
beats the champion's test accuracy and passes its robustness gate (robustness.gates), if it has one."""

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
    parser.add_argument("--metrics", type=Path, required=True, help="the evaluate stage's metrics.json")
    parser.add_argument("--robustness", type=Path, required=True, help="the robustness stage's metrics")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start(args)

    import mlflow

    from visionops import tracking
    from visionops.data.prepare import load_prepared
    from visionops.io import atomic_write_json
    from visionops.registry import PGD_TAG, register_onnx, registered_name, robustness_gate

    model_name = registered_name(params.tracking.registered_models, args.name)
    try:
        accuracy = float(json.loads(args.metrics.read_text())["accuracy"])
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{args.metrics} has no test accuracy ({exc}); run dvc repro evaluate@{args.name}") from None
    try:
        robustness = json.loads(args.robustness.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {args.robustness} ({exc}); run dvc repro robustness") from None
    pgd = robustness.get(args.name, {}).get("pgd_headline")
    gate = robustness_gate(accuracy, pgd, params.robustness.gates.get(args.name), params.robustness.headline_eps)
    example = (load_prepared(args.data).test_x[:4].float() / 255.0).numpy()
    tags = {"git_commit": tracking.git_commit(root), "data_version": tracking.data_version(root)}
    if pgd is not None:
        tags[PGD_TAG] = f"{pgd:.6f}"
        tags["pgd_eps"] = str(params.robustness.headline_eps)
    with tracking.stage_run(f"register@{args.name}", params.tracking, root) as run:
        mlflow.log_metric("test_accuracy", accuracy)
        if pgd is not None:
            mlflow.log_metric("pgd_accuracy", pgd)
        tags["run_id"] = run.info.run_id
        result = register_onnx(
            args.onnx, model_name, accuracy, params.tracking.promotion_margin, example, tags, gate
        )
        mlflow.set_tags({"registered_version": result.version, "promoted": str(result.promoted)})
    atomic_write_json(args.out, result.__dict__)
    verdict = "promoted to champion" if result.promoted else f"champion stays version {result.champion_version}"
    print(f"register@{args.name}: {result.name} version {result.version} is challenger; {verdict} ({result.reason})")


if __name__ == "__main__":
    main()
