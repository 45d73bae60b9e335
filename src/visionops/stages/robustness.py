"""DVC stage `robustness`: every classifier attacked on the same seeded test images; sanity checks fail the stage.

Transfer to the shipped artifact: onnxruntime classifies the adversarial images crafted on the torch model,
and must agree with torch to within robustness.transfer_max_gap.
"""

from __future__ import annotations

from pathlib import Path

from visionops.errors import UserError, exits_cleanly
from visionops.stages import stage_parser, start

MODEL_FILE, ONNX_FILE = "classifier.pt", "classifier.onnx"


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--models", type=Path, nargs="+", required=True,
                        help=f"one folder per model holding {MODEL_FILE} and {ONNX_FILE}; the folder name is the model's")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for curve.csv and the figures")
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start(args)
    rp = params.robustness

    import mlflow
    import torch

    from visionops import tracking
    from visionops.config import flatten
    from visionops.data.prepare import load_prepared
    from visionops.inference import predict_logits, session
    from visionops.io import atomic_dir, atomic_write_json
    from visionops.models.io import load_model
    from visionops.robustness import plots
    from visionops.robustness.evaluate import PGDSettings, robustness_curve, sanity_checks

    data = load_prepared(args.data)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    pick = torch.randperm(len(data.test_y), generator=torch.Generator().manual_seed(rp.seed))[: rp.images]
    x = data.test_x[pick].float().div(255.0).to(device)
    y = data.test_y[pick].to(device)
    settings = PGDSettings(rp.pgd_steps, rp.pgd_restarts, rp.losses, rp.pgd_step_scale)

    metrics: dict = {"images": len(y), "headline_eps": rp.headline_eps, "device": device.type}
    curves, failures = {}, []
    with tracking.stage_run("robustness", params.tracking, root):
        mlflow.log_params(flatten({"robustness": rp.model_dump(mode="json")}))
        for folder in args.models:
            name = folder.name
            network, _ = load_model(folder / MODEL_FILE)
            network = network.to(device).eval()
            curve = robustness_curve(network, x, y, list(rp.eps), rp.headline_eps, settings, rp.large_eps, rp.batch_size, rp.seed)
            ort_logits = predict_logits(session(folder / ONNX_FILE, params.evaluation.ort_threads), curve.adversarial.cpu().numpy(), rp.batch_size)
            torch_acc = curve.at(rp.headline_eps)
            ort_acc = float((ort_logits.argmax(1) == y.cpu().numpy()).mean())
            checks = sanity_checks(curve, rp.sanity_tolerance, rp.large_eps_max_accuracy)
            gap = abs(ort_acc - torch_acc)
            failures += [f"{name}: {c.name} ({c.detail})" for c in checks if not c.passed]
            if gap > rp.transfer_max_gap:
                failures.append(f"{name}: onnxruntime accuracy {ort_acc:.4f} vs torch {torch_acc:.4f} on the same adversarial images")
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
            tracking.log_json_metrics({k: v for k, v in metrics[name].items() if not isinstance(v, dict)}, prefix=f"{name}/")
            print(
                f"robustness: {name}: clean {curve.clean:.4f}, at eps {rp.headline_eps} FGSM {metrics[name]['fgsm_headline']:.4f}, "
                f"PGD {torch_acc:.4f} (onnxruntime {ort_acc:.4f}), eps {rp.large_eps} PGD {curve.large_eps_pgd:.4f}",
                flush=True,
            )
        if failures:
            mlflow.set_tag("sanity_failures", " | ".join(failures)[:5000])
            raise UserError(
                "robustness sanity check failed, so these numbers cannot be trusted (masked gradients or a broken "
                f"attack): {'; '.join(failures)}"
            )
        with atomic_dir(args.out) as out:
            names = list(curves)
            rows = ["eps," + ",".join(f"{n}_{a}" for n in names for a in ("fgsm", "pgd"))]
            for i, eps in enumerate(rp.eps):
                rows.append(f"{eps}," + ",".join(f"{getattr(curves[n], a)[i]:.4f}" for n in names for a in ("fgsm", "pgd")))
            (out / "curve.csv").write_text("\n".join(rows) + "\n")
            plots.curves_figure(curves, out / "robust_accuracy.png")
            for name, curve in curves.items():
                shown = _examples(curve, y, rp.examples)
                plots.examples_figure(
                    x[shown, 0].cpu().numpy(), curve.adversarial[shown, 0].cpu().numpy(), y[shown].cpu().numpy(),
                    curve.predictions[shown].cpu().numpy(), data.classes, rp.headline_eps, out / f"examples_{name}.png",
                )
            mlflow.log_artifacts(str(out), "robustness")
        atomic_write_json(args.metrics, metrics)
        mlflow.log_artifact(str(args.metrics), "robustness")


def _examples(curve, labels, n: int):
    """Images the model got right that the attack fooled first (the instructive ones), then those it held."""
    import torch

    right = curve.clean_predictions == labels
    fooled = (right & (curve.predictions != labels)).nonzero().squeeze(1)
    held = (right & (curve.predictions == labels)).nonzero().squeeze(1)
    return torch.cat([fooled[: (n + 1) // 2 if len(held) else n], held, fooled[(n + 1) // 2 :]])[:n].cpu()


if __name__ == "__main__":
    main()
