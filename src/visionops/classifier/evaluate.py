"""The evaluate stage's work: the shipped ONNX model on the test set through onnxruntime, its metrics, figures and
explanations."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def evaluate_stage(
    *,
    name: str,
    onnx: Path,
    int8: Path,
    model: Path,
    data_path: Path,
    out_path: Path,
    metrics_path: Path,
    params: Any,
    root: Path,
) -> None:
    """Evaluate pipeline model `name`: the ONNX (and INT8) model through onnxruntime on the test set, its figures and
    explanations (from the torch `model`)."""

    import mlflow
    import numpy as np
    import torch

    from visionops.classifier import plots
    from visionops.classifier.attribution import explain
    from visionops.classifier.metrics import classification_metrics, confusion, most_confident_mistakes
    from visionops.classifier.model_file import load_classifier
    from visionops.classifier.ood import ood_report, unlike_fashion_mnist
    from visionops.classifier.predict import predict_logits
    from visionops.core import tracking
    from visionops.core.io import atomic_dir, atomic_write_json
    from visionops.core.ort import ood_score, ood_threshold, session, softmax
    from visionops.data.prepare import load_prepared

    ev = params.evaluation
    data = load_prepared(data_path)
    pixels = data.test_x.float().div(255.0).numpy()
    labels = data.test_y.numpy()
    classes = data.classes

    sess = session(onnx, ev.ort_threads)
    logits = predict_logits(sess, pixels, ev.batch_size)
    metrics = classification_metrics(logits, labels, classes)
    metrics["test_images"] = int(len(labels))
    metrics["fp32_bytes"] = onnx.stat().st_size
    if int8.is_file() and int8.stat().st_size > 0:
        int8_logits = predict_logits(session(int8, ev.ort_threads), pixels, ev.batch_size)
        metrics["int8"] = {
            "accuracy": classification_metrics(int8_logits, labels, classes)["accuracy"],
            "bytes": int8.stat().st_size,
            "agreement_with_fp32": float((int8_logits.argmax(1) == logits.argmax(1)).mean()),
        }

    probs = softmax(logits)
    preds = probs.argmax(1)
    threshold = ood_threshold(sess)
    if threshold is not None:
        unlike = unlike_fashion_mnist(pixels, min(ev.ood_images, len(pixels)))
        unlike_scores = {kind: ood_score(predict_logits(sess, x, ev.batch_size)) for kind, x in unlike.items()}
        metrics["ood"] = ood_report(threshold, ood_score(logits), unlike_scores)
    with tracking.stage_run(f"evaluate@{name}", params.tracking, root), atomic_dir(out_path) as out:
        mlflow.log_params({f"evaluation.{k}": v for k, v in ev.model_dump().items()})
        lines = ["actual,predicted"] + [f"{classes[a]},{classes[p]}" for a, p in zip(labels, preds, strict=True)]
        (out / "predictions.csv").write_text("\n".join(lines) + "\n")
        plots.confusion_figure(confusion(logits, labels, len(classes)), classes, out / "confusion.png")
        wrong = most_confident_mistakes(probs, labels, ev.mistakes)
        plots.mistakes_figure(pixels[wrong, 0], labels[wrong], probs[wrong], classes, path=out / "mistakes.png")
        if ev.explain_images:
            network, _ = load_classifier(model)
            firsts = [int(np.flatnonzero(labels == c)[0]) for c in range(len(classes)) if (labels == c).any()]
            chosen = firsts[: ev.explain_images]
            images = torch.from_numpy(pixels[chosen])
            maps = explain(
                network, images, torch.from_numpy(preds[chosen]), window=ev.occlusion_window, stride=ev.occlusion_stride
            )
            titles = [f"{classes[labels[i]]} → {classes[preds[i]]}" for i in chosen]
            plots.explanations_figure(pixels[chosen, 0], maps, titles, out / "explanations.png")
        tracking.log_json_metrics(metrics, prefix="test/")
        mlflow.log_artifacts(str(out), "evaluation")
        atomic_write_json(metrics_path, metrics)
        mlflow.log_artifact(str(metrics_path), "evaluation")
    line = f"evaluate@{name}: onnxruntime test accuracy {metrics['accuracy']:.4f} on {len(labels)} images"
    if "int8" in metrics:
        line += f"; int8 {metrics['int8']['accuracy']:.4f} at {metrics['int8']['bytes'] / 1e3:.0f} kB"
    print(line)
    if "ood" in metrics:
        ood = metrics["ood"]
        caught = ", ".join(f"{kind} {share:.0%}" for kind, share in ood["catch"].items())
        print(
            f"evaluate@{name}: unlike-the-training-data flag (log-sum-exp of the logits < {ood['threshold']:.2f}): "
            f"{ood['false_alarm']:.1%} false alarms on test images; catches {caught}"
        )
