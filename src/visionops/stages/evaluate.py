"""DVC stage `evaluate@<model>`: the shipped ONNX model on the test set through onnxruntime, with plots and explanations."""

from __future__ import annotations

from pathlib import Path

from visionops.errors import exits_cleanly
from visionops.stages import stage_parser, start


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--name", required=True, help="the model's name (dvc.yaml foreach key)")
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--int8", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True, help="torch weights, for the attribution maps")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for predictions.csv and the figures")
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start(args)

    import mlflow
    import numpy as np
    import torch

    from visionops import tracking
    from visionops.data.prepare import load_prepared
    from visionops.evaluation import plots
    from visionops.evaluation.attribution import explain
    from visionops.evaluation.metrics import classification_metrics, confusion, most_confident_mistakes
    from visionops.inference import predict_logits, session, softmax
    from visionops.io import atomic_dir, atomic_write_json
    from visionops.models.io import load_model

    ev = params.evaluation
    data = load_prepared(args.data)
    pixels = data.test_x.float().div(255.0).numpy()
    labels = data.test_y.numpy()
    classes = data.classes

    logits = predict_logits(session(args.onnx, ev.ort_threads), pixels, ev.batch_size)
    metrics = classification_metrics(logits, labels, classes)
    metrics["test_images"] = int(len(labels))
    metrics["fp32_bytes"] = args.onnx.stat().st_size
    if args.int8.is_file() and args.int8.stat().st_size > 0:
        int8_logits = predict_logits(session(args.int8, ev.ort_threads), pixels, ev.batch_size)
        metrics["int8"] = {
            "accuracy": classification_metrics(int8_logits, labels, classes)["accuracy"],
            "bytes": args.int8.stat().st_size,
            "agreement_with_fp32": float((int8_logits.argmax(1) == logits.argmax(1)).mean()),
        }

    probs = softmax(logits)
    preds = probs.argmax(1)
    with tracking.stage_run(f"evaluate@{args.name}", params.tracking, root), atomic_dir(args.out) as out:
        mlflow.log_params({f"evaluation.{k}": v for k, v in ev.model_dump().items()})
        lines = ["actual,predicted"] + [f"{classes[a]},{classes[p]}" for a, p in zip(labels, preds, strict=True)]
        (out / "predictions.csv").write_text("\n".join(lines) + "\n")
        plots.confusion_figure(confusion(logits, labels, len(classes)), classes, out / "confusion.png")
        wrong = most_confident_mistakes(probs, labels, ev.mistakes)
        plots.mistakes_figure(pixels[wrong, 0], labels[wrong], probs[wrong], classes, out / "mistakes.png")
        if ev.explain_images:
            network, _ = load_model(args.model)
            firsts = [int(np.flatnonzero(labels == c)[0]) for c in range(len(classes)) if (labels == c).any()]
            chosen = firsts[: ev.explain_images]
            images = torch.from_numpy(pixels[chosen])
            maps = explain(network, images, torch.from_numpy(preds[chosen]), ev.occlusion_window, ev.occlusion_stride)
            titles = [f"{classes[labels[i]]} → {classes[preds[i]]}" for i in chosen]
            plots.explanations_figure(pixels[chosen, 0], maps, titles, out / "explanations.png")
        tracking.log_json_metrics(metrics, prefix="test/")
        mlflow.log_artifacts(str(out), "evaluation")
        atomic_write_json(args.metrics, metrics)
        mlflow.log_artifact(str(args.metrics), "evaluation")
    line = f"evaluate@{args.name}: onnxruntime test accuracy {metrics['accuracy']:.4f} on {len(labels)} images"
    if "int8" in metrics:
        line += f"; int8 {metrics['int8']['accuracy']:.4f} at {metrics['int8']['bytes'] / 1e3:.0f} kB"
    print(line)


if __name__ == "__main__":
    main()
