"""DVC stage `register`: the ONNX model into the MLflow registry; challenger always, champion if it wins."""

from __future__ import annotations

import json
from pathlib import Path

from visionops.errors import UserError, exits_cleanly
from visionops.stages import stage_parser, start


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True, help="the evaluate stage's metrics.json")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start(args)

    import mlflow

    from visionops import tracking
    from visionops.data.prepare import load_prepared
    from visionops.io import atomic_write_json
    from visionops.registry import register_onnx

    try:
        accuracy = float(json.loads(args.metrics.read_text())["accuracy"])
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{args.metrics} has no test accuracy ({exc}); run dvc repro evaluate") from None
    example = (load_prepared(args.data).test_x[:4].float() / 255.0).numpy()
    with tracking.stage_run("register", params.tracking, root) as run:
        mlflow.log_metric("test_accuracy", accuracy)
        result = register_onnx(
            args.onnx,
            params.tracking.registered_model,
            accuracy,
            params.tracking.promotion_margin,
            example,
            {"git_commit": tracking.git_commit(root), "data_version": tracking.data_version(root), "run_id": run.info.run_id},
        )
        mlflow.set_tags({"registered_version": result.version, "promoted": str(result.promoted)})
    atomic_write_json(args.out, result.__dict__)
    verdict = "promoted to champion" if result.promoted else f"champion stays version {result.champion_version}"
    print(f"register: {result.name} version {result.version} is challenger; {verdict} ({result.reason})")


if __name__ == "__main__":
    main()
