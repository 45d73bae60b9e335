"""Judge generators against the test set in a classifier's feature space, beside a floor of real images."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from visionops.gan.metrics import features_and_logits, frechet_distance, knn_radii, sample_quality
from visionops.gan.params import GANEvaluationParams


@dataclass(frozen=True)
class Reference:
    """The test set's features and k-NN radii, computed once and shared by every model and the floor."""

    features: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    radii: torch.Tensor

    @classmethod
    def of(cls, features: torch.Tensor, labels: torch.Tensor, num_classes: int, k: int) -> Reference:
        return cls(features, labels, num_classes, knn_radii(features.float(), k))


@torch.no_grad()
def draw_samples(
    generator: nn.Module, n: int, seed: int, batch_size: int = 1000
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n seeded samples; a conditional generator gets the classes in equal shares (labels cycle)."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.latent_dim, generator=gen)
    labels = torch.arange(n) % generator.num_classes if generator.num_classes else None
    images = [
        generator.eval()(z[i : i + batch_size], None if labels is None else labels[i : i + batch_size])
        for i in range(0, n, batch_size)
    ]
    return torch.cat(images), labels


def per_class_fd(reference: Reference, features: torch.Tensor, labels: torch.Tensor) -> list[float | None]:
    """FD of each class's samples against that class's test images (None where either side has under 2 images)."""
    fds: list[float | None] = []
    for k in range(reference.num_classes):
        real, fake = reference.features[reference.labels == k], features[labels == k]
        fds.append(frechet_distance(real, fake) if min(len(real), len(fake)) >= 2 else None)
    return fds


def judge_features(
    reference: Reference, features: torch.Tensor, labels: torch.Tensor | None, settings: GANEvaluationParams
) -> dict[str, float | list[float]]:
    """FD, KID, precision/recall; with labels (the asked-for classes, or the true ones for real images), FD per
    class."""
    result: dict[str, float | list[float]] = dict(
        sample_quality(
            reference.features,
            features,
            k=settings.knn_k,
            kid_subsets=settings.kid_subsets,
            kid_subset_size=settings.kid_subset_size,
            seed=settings.seed,
            real_radii=reference.radii,
        )
    )
    if labels is not None:
        result["fd_per_class"] = per_class_fd(reference, features, labels)
    return result


def evaluate_generator(
    generator: nn.Module, classifier: nn.Module, reference: Reference, floor: dict, *, settings: GANEvaluationParams
) -> tuple[dict, torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """(metrics, samples, asked-for labels, predicted classes) for one generator; ratios are against `floor`."""
    samples, labels = draw_samples(generator, settings.samples, settings.seed, settings.batch_size)
    features, logits = features_and_logits(classifier, samples, settings.batch_size)
    predicted = logits.argmax(1)
    metrics = judge_features(reference, features, labels, settings)
    metrics["fd_ratio"] = metrics["fd"] / max(floor["fd"], 1e-12)
    metrics["class_shares"] = (
        torch.bincount(predicted, minlength=reference.num_classes).float() / len(predicted)
    ).tolist()
    if labels is not None:
        metrics["conditional_accuracy"] = float((predicted == labels).float().mean())
        metrics["fd_per_class_ratio"] = [
            None if fd is None or base is None else fd / max(base, 1e-12)
            for fd, base in zip(metrics["fd_per_class"], floor["fd_per_class"], strict=True)
        ]
    return metrics, samples, labels, predicted


@torch.no_grad()
def nearest_training_images(
    samples: torch.Tensor, train_x: torch.Tensor, chunk: int = 8192
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each sample, the closest training image in pixel L2 (memorisation check): (images, distances)."""
    flat = samples.flatten(1).float()
    best_d = torch.full((len(flat),), float("inf"))
    best_i = torch.zeros(len(flat), dtype=torch.long)
    for start in range(0, len(train_x), chunk):
        block = train_x[start : start + chunk].flatten(1).float() / 255.0
        d, i = torch.cdist(flat, block).min(dim=1)
        better = d < best_d
        best_d[better], best_i[better] = d[better], i[better] + start
    return train_x[best_i].float() / 255.0, best_d


@torch.no_grad()
def interpolations(generator: nn.Module, rows: int, steps: int, seed: int) -> tuple[torch.Tensor, list[int]]:
    """Straight lines in latent space between two seeded noises, one per row; a conditional G keeps one class a row."""
    gen = torch.Generator().manual_seed(seed + 1)
    ends = torch.randn(2, rows, generator.latent_dim, generator=gen)
    t = torch.linspace(0, 1, steps)[None, :, None]
    z = (ends[0][:, None] * (1 - t) + ends[1][:, None] * t).reshape(rows * steps, -1)
    classes = [r % max(generator.num_classes, 1) for r in range(rows)]
    labels = torch.tensor(classes).repeat_interleave(steps) if generator.num_classes else None
    images = generator.eval()(z, labels)
    return images.reshape(rows, steps, *images.shape[1:]), classes


HEADLINE = ("fd_ratio", "fd", "kid", "precision", "recall", "conditional_accuracy")


def classifier_version(classifier: Path, registry: Path | None) -> dict[str, str]:
    """What identifies the feature extractor: its file's hash and, once registered, its registry version."""
    version = {"path": str(classifier), "sha256": hashlib.sha256(classifier.read_bytes()).hexdigest()}
    if registry is not None and registry.is_file():
        entry = json.loads(registry.read_text())
        version["registered"] = f"{entry['name']} v{entry['version']}"
    return version


def evaluate_stage(
    *,
    generator_folders: list[Path],
    classifier_path: Path,
    classifier_registry: Path | None,
    data_path: Path,
    out_path: Path,
    metrics_path: Path,
    params: Any,
    root: Path,
) -> None:
    """Judge the generator in each folder of `generator_folders` against the test set, beside the real floor."""
    settings = params.gan_evaluation

    import mlflow
    import torch

    from visionops.classifier.model_file import load_classifier
    from visionops.core import tracking
    from visionops.core.io import atomic_dir, atomic_write_json
    from visionops.data.prepare import load_prepared
    from visionops.gan.metrics import features_and_logits
    from visionops.gan.model_file import load_generator
    from visionops.gan.plots import neighbours_figure, rows_figure

    classifier, _ = load_classifier(classifier_path)
    generators = {folder.name: load_generator(folder / "generator.pt")[0] for folder in generator_folders}
    data = load_prepared(data_path)
    classes = data.classes
    torch.manual_seed(settings.seed)

    test_features, _ = features_and_logits(classifier, data.test_x, settings.batch_size)
    reference = Reference.of(test_features, data.test_y, len(classes), settings.knn_k)
    real_pick = torch.randperm(len(data.train_y), generator=torch.Generator().manual_seed(settings.seed))[
        : settings.samples
    ]
    real_features, _ = features_and_logits(classifier, data.train_x[real_pick], settings.batch_size)
    floor = judge_features(reference, real_features, data.train_y[real_pick], settings)
    report: dict = {
        "samples": settings.samples,
        "feature_classifier": classifier_version(classifier_path, classifier_registry),
        "floor": floor,
    }

    with tracking.stage_run("gan_evaluate", params.tracking, root), atomic_dir(out_path) as out:
        mlflow.log_params({f"gan_evaluation.{k}": v for k, v in settings.model_dump().items() if k != "gates"})
        mlflow.set_tags({f"feature_classifier.{k}": v for k, v in report["feature_classifier"].items()})
        for name, generator in generators.items():
            metrics, samples, labels, predicted = evaluate_generator(
                generator, classifier, reference, floor, settings=settings
            )
            report[name] = metrics
            # per class: the asked-for class (conditional), else the class the classifier sees
            by_class = labels if labels is not None else predicted
            rows = [
                (classes[k], samples[by_class == k][: settings.grid_per_class].numpy()) for k in range(len(classes))
            ]
            title = f"{name}: " + (
                "samples by asked-for class" if labels is not None else "samples by the classifier's class"
            )
            rows_figure([(label, images) for label, images in rows if len(images)], title, out / f"classes_{name}.png")
            strips, strip_classes = interpolations(generator, 4, settings.interpolation_steps, settings.seed)
            rows_figure(
                [
                    (classes[k] if generator.num_classes else f"z{r}", strip.numpy())
                    for r, (k, strip) in enumerate(zip(strip_classes, strips, strict=True))
                ],
                f"{name}: latent interpolation",
                out / f"interpolation_{name}.png",
            )
            if settings.neighbours:
                shown = samples[: settings.neighbours]
                nearest, distances = nearest_training_images(shown, data.train_x)
                neighbours_figure(shown.numpy(), nearest.numpy(), distances.numpy(), out / f"neighbours_{name}.png")
                metrics["nearest_train_l2_min"] = float(distances.min())
        atomic_write_json(metrics_path, report)
        flat = {f"{name}/{key}": report[name][key] for name in generators for key in HEADLINE if key in report[name]}
        flat.update({f"floor/{key}": floor[key] for key in ("fd", "kid", "precision", "recall")})
        mlflow.log_metrics(flat)
        mlflow.log_artifacts(str(out), "gan")
        mlflow.log_artifact(str(metrics_path))
    for name in generators:
        m = report[name]
        cond = f", conditional accuracy {m['conditional_accuracy']:.3f}" if "conditional_accuracy" in m else ""
        print(
            f"gan_evaluate: {name} FD {m['fd']:.2f} ({m['fd_ratio']:.0f}x the real floor {floor['fd']:.3f}), "
            f"KID {m['kid']:.3f}, "
            f"precision {m['precision']:.3f}, recall {m['recall']:.3f}{cond}"
        )
