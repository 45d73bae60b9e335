"""The robustness stage's work: every classifier attacked on the same seeded test images (visionops.robustness), the
sanity checks that fail the stage, and onnxruntime's accuracy on the torch model's adversarial images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from visionops.core.errors import UserError

MODEL_FILE, ONNX_FILE = "classifier.pt", "classifier.onnx"


def robustness_stage(
    *, models: list[Path], data_path: Path, out_path: Path, metrics_path: Path, params: Any, root: Path
) -> None:
    """Attack the classifier in each folder of `models` (named by the folder); write the curve, figures and metrics."""
    rp = params.robustness

    import mlflow
    import torch

    from visionops.classifier.model_file import load_classifier
    from visionops.classifier.predict import predict_logits
    from visionops.core import tracking
    from visionops.core.config import flatten
    from visionops.core.io import atomic_dir, atomic_write_json
    from visionops.core.ort import session
    from visionops.data.prepare import load_prepared
    from visionops.robustness import plots
    from visionops.robustness.evaluate import PGDSettings, robustness_curve, sanity_checks

    data = load_prepared(data_path)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    pick = torch.randperm(len(data.test_y), generator=torch.Generator().manual_seed(rp.seed))[: rp.images]
    x = data.test_x[pick].float().div(255.0).to(device)
    y = data.test_y[pick].to(device)
    settings = PGDSettings(rp.pgd_steps, rp.pgd_restarts, rp.losses, rp.pgd_step_scale)

    metrics: dict = {"images": len(y), "headline_eps": rp.headline_eps, "device": device.type}
    curves, failures = {}, []
    with tracking.stage_run("robustness", params.tracking, root):
        mlflow.log_params(flatten({"robustness": rp.model_dump(mode="json")}))
        for folder in models:
            name = folder.name
            network, _ = load_classifier(folder / MODEL_FILE)
            # channels_last: measured 1.4-1.8x faster convolutions on CPU for these attacks (fp32, same math)
            network = network.to(device, memory_format=torch.channels_last).eval()
            curve = robustness_curve(
                network,
                x,
                y,
                eps_list=list(rp.eps),
                headline_eps=rp.headline_eps,
                settings=settings,
                large_eps=rp.large_eps,
                batch=rp.batch_size,
                seed=rp.seed,
            )
            ort_logits = predict_logits(
                session(folder / ONNX_FILE, params.evaluation.ort_threads),
                curve.adversarial.cpu().numpy(),
                rp.batch_size,
            )
            torch_acc = curve.at(rp.headline_eps)
            ort_acc = float((ort_logits.argmax(1) == y.cpu().numpy()).mean())
            checks = sanity_checks(curve, rp.sanity_tolerance, rp.large_eps_max_accuracy)
            gap = abs(ort_acc - torch_acc)
            failures += [f"{name}: {c.name} ({c.detail})" for c in checks if not c.passed]
            if gap > rp.transfer_max_gap:
                failures.append(
                    f"{name}: onnxruntime accuracy {ort_acc:.4f} vs torch {torch_acc:.4f} "
                    "on the same adversarial images"
                )
            curves[name] = curve
            metrics[name] = {
                "clean": curve.clean,
                "fgsm_headline": curve.at(rp.headline_eps, "fgsm"),
                "pgd_headline": torch_acc,
                "pgd_headline_weaker": curve.weaker_pgd,
                "pgd_large_eps": curve.large_eps_pgd,
                "onnxruntime_pgd_headline": ort_acc,
                "transfer_gap": gap,
                "curve": {"eps": curve.eps, "fgsm": curve.fgsm, "pgd": curve.pgd},
                "sanity": {c.name: c.passed for c in checks},
            }
            for c in checks:
                mlflow.set_tag(f"sanity.{name}.{c.name}", f"{'pass' if c.passed else 'FAIL'}: {c.detail}")
            for eps, f, p in zip(curve.eps, curve.fgsm, curve.pgd):
                mlflow.log_metric(f"{name}/fgsm_acc", f, step=round(eps * 1000))
                mlflow.log_metric(f"{name}/pgd_acc", p, step=round(eps * 1000))
            tracking.log_json_metrics(
                {k: v for k, v in metrics[name].items() if not isinstance(v, dict)}, prefix=f"{name}/"
            )
            print(
                f"robustness: {name}: clean {curve.clean:.4f}, at eps {rp.headline_eps} "
                f"FGSM {metrics[name]['fgsm_headline']:.4f}, "
                f"PGD {torch_acc:.4f} (onnxruntime {ort_acc:.4f}), eps {rp.large_eps} PGD {curve.large_eps_pgd:.4f}",
                flush=True,
            )
        if failures:
            mlflow.set_tag("sanity_failures", " | ".join(failures)[:5000])
            raise UserError(
                "robustness sanity check failed, so these numbers cannot be trusted (masked gradients or a broken "
                f"attack): {'; '.join(failures)}"
            )
        with atomic_dir(out_path) as out:
            names = list(curves)
            rows = ["eps," + ",".join(f"{n}_{a}" for n in names for a in ("fgsm", "pgd"))]
            for i, eps in enumerate(rp.eps):
                rows.append(
                    f"{eps}," + ",".join(f"{getattr(curves[n], a)[i]:.4f}" for n in names for a in ("fgsm", "pgd"))
                )
            (out / "curve.csv").write_text("\n".join(rows) + "\n")
            plots.curves_figure(curves, out / "robust_accuracy.png")
            attack = f"PGD ({rp.pgd_steps} steps, {' then '.join(rp.losses)} loss)"
            for name, curve in curves.items():
                shown = _examples(curve, y, rp.examples)
                plots.adversarial_examples_figure(
                    x[shown, 0].cpu().numpy(),
                    curve.adversarial[shown, 0].cpu().numpy(),
                    labels=y[shown].cpu().numpy(),
                    predicted=curve.predictions[shown].cpu().numpy(),
                    classes=data.classes,
                    eps=rp.headline_eps,
                    title=f"{name} model: {attack} at eps {rp.headline_eps}",
                    path=out / f"examples_{name}.png",
                )
            mlflow.log_artifacts(str(out), "robustness")
        atomic_write_json(metrics_path, metrics)
        mlflow.log_artifact(str(metrics_path), "robustness")


def _examples(curve, labels, n: int):
    """Images the model got right that the attack fooled first (the instructive ones), then those it held."""
    import torch

    right = curve.clean_predictions == labels
    fooled = (right & (curve.predictions != labels)).nonzero().squeeze(1)
    held = (right & (curve.predictions == labels)).nonzero().squeeze(1)
    return torch.cat([fooled[: (n + 1) // 2 if len(held) else n], held, fooled[(n + 1) // 2 :]])[:n].cpu()
