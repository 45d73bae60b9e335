"""DVC stage `gan_evaluate`: every generator judged in the trained classifier's feature space against the test
set (FD, KID, precision/recall, conditional accuracy, FD per class), beside the same metrics for real training
images (the floor), with sample grids, latent interpolations and a memorisation check."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from visionops.errors import exits_cleanly
from visionops.stages import stage_parser, start

HEADLINE = ("fd_ratio", "fd", "kid", "precision", "recall", "conditional_accuracy")


def classifier_version(classifier: Path, registry: Path | None) -> dict[str, str]:
    """What identifies the feature extractor: its file's hash and, once registered, its registry version."""
    version = {"path": str(classifier), "sha256": hashlib.sha256(classifier.read_bytes()).hexdigest()}
    if registry is not None and registry.is_file():
        entry = json.loads(registry.read_text())
        version["registered"] = f"{entry['name']} v{entry['version']}"
    return version


@exits_cleanly
def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--generators", type=Path, nargs="+", required=True, help="folders holding generator.pt")
    parser.add_argument("--classifier", type=Path, required=True, help="the classifier whose features judge the samples")
    parser.add_argument("--classifier-registry", type=Path, help="its register stage's output, for the version tag")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    args = parser.parse_args(argv)
    params, root = start(args)
    settings = params.gan_evaluation

    import mlflow
    import torch

    from visionops import tracking
    from visionops.data.prepare import load_prepared
    from visionops.gan.evaluate import Reference, evaluate_generator, interpolations, judge, nearest_training_images
    from visionops.gan.metrics import features_and_logits
    from visionops.gan.plots import neighbours_figure, rows_figure
    from visionops.io import atomic_dir, atomic_write_json
    from visionops.models.io import load_generator, load_model

    classifier, _ = load_model(args.classifier)
    generators = {folder.name: load_generator(folder / "generator.pt")[0] for folder in args.generators}
    data = load_prepared(args.data)
    classes = data.classes
    torch.manual_seed(settings.seed)

    test_features, _ = features_and_logits(classifier, data.test_x, settings.batch_size)
    reference = Reference.of(test_features, data.test_y, len(classes), settings.knn_k)
    real_pick = torch.randperm(len(data.train_y), generator=torch.Generator().manual_seed(settings.seed))[: settings.samples]
    real_features, _ = features_and_logits(classifier, data.train_x[real_pick], settings.batch_size)
    floor = judge(reference, real_features, data.train_y[real_pick], settings)
    report: dict = {"samples": settings.samples, "feature_classifier": classifier_version(args.classifier, args.classifier_registry), "floor": floor}

    with tracking.stage_run("gan_evaluate", params.tracking, root), atomic_dir(args.out) as out:
        mlflow.log_params({f"gan_evaluation.{k}": v for k, v in settings.model_dump().items() if k != "gates"})
        mlflow.set_tags({f"feature_classifier.{k}": v for k, v in report["feature_classifier"].items()})
        for name, generator in generators.items():
            metrics, samples, labels, predicted = evaluate_generator(generator, classifier, reference, floor, settings)
            report[name] = metrics
            # per class: the asked-for class (conditional), else the class the classifier sees
            by_class = labels if labels is not None else predicted
            rows = [(classes[k], samples[by_class == k][: settings.grid_per_class].numpy()) for k in range(len(classes))]
            title = f"{name}: " + ("samples by asked-for class" if labels is not None else "samples by the classifier's class")
            rows_figure([(label, images) for label, images in rows if len(images)], title, out / f"classes_{name}.png")
            strips, strip_classes = interpolations(generator, 4, settings.interpolation_steps, settings.seed)
            rows_figure(
                [(classes[k] if generator.num_classes else f"z{r}", strip.numpy()) for r, (k, strip) in enumerate(zip(strip_classes, strips, strict=True))],
                f"{name}: latent interpolation", out / f"interpolation_{name}.png",
            )
            if settings.neighbours:
                shown = samples[: settings.neighbours]
                nearest, distances = nearest_training_images(shown, data.train_x)
                neighbours_figure(shown.numpy(), nearest.numpy(), distances.numpy(), out / f"neighbours_{name}.png")
                metrics["nearest_train_l2_min"] = float(distances.min())
        atomic_write_json(args.metrics, report)
        flat = {f"{name}/{key}": report[name][key] for name in generators for key in HEADLINE if key in report[name]}
        flat.update({f"floor/{key}": floor[key] for key in ("fd", "kid", "precision", "recall")})
        mlflow.log_metrics(flat)
        mlflow.log_artifacts(str(out), "gan")
        mlflow.log_artifact(str(args.metrics))
    for name in generators:
        m = report[name]
        cond = f", conditional accuracy {m['conditional_accuracy']:.3f}" if "conditional_accuracy" in m else ""
        print(f"gan_evaluate: {name} FD {m['fd']:.2f} ({m['fd_ratio']:.0f}x the real floor {floor['fd']:.3f}), KID {m['kid']:.3f}, "
              f"precision {m['precision']:.3f}, recall {m['recall']:.3f}{cond}")


if __name__ == "__main__":
    main()
