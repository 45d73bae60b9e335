"""Judge generators against the test set in a classifier's feature space, beside a floor of real images."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from visionops.config import GANEvaluationParams
from visionops.gan.metrics import features_and_logits, frechet_distance, knn_radii, sample_quality


@dataclass(frozen=True)
class Reference:
    """The test set's features and k-NN radii, computed once and shared by every model and the floor."""

    features: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    radii: torch.Tensor

    @classmethod
    def of(cls, features: torch.Tensor, labels: torch.Tensor, num_classes: int, k: int) -> "Reference":
        return cls(features, labels, num_classes, knn_radii(features.float(), k))


@torch.no_grad()
def generate(generator: nn.Module, n: int, seed: int, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor | None]:
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


def judge(
    reference: Reference, features: torch.Tensor, labels: torch.Tensor | None, settings: GANEvaluationParams
) -> dict[str, float | list[float]]:
    """FD, KID, precision/recall; with labels (the asked-for classes, or the true ones for real images), FD per class."""
    result: dict[str, float | list[float]] = dict(
        sample_quality(
            reference.features, features, settings.knn_k, settings.kid_subsets, settings.kid_subset_size, settings.seed,
            real_radii=reference.radii,
        )
    )
    if labels is not None:
        result["fd_per_class"] = per_class_fd(reference, features, labels)
    return result


def evaluate_generator(
    generator: nn.Module, classifier: nn.Module, reference: Reference, floor: dict, settings: GANEvaluationParams
) -> tuple[dict, torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """(metrics, samples, asked-for labels, predicted classes) for one generator; ratios are against `floor`."""
    samples, labels = generate(generator, settings.samples, settings.seed, settings.batch_size)
    features, logits = features_and_logits(classifier, samples, settings.batch_size)
    predicted = logits.argmax(1)
    metrics = judge(reference, features, labels, settings)
    metrics["fd_ratio"] = metrics["fd"] / max(floor["fd"], 1e-12)
    metrics["class_shares"] = (torch.bincount(predicted, minlength=reference.num_classes).float() / len(predicted)).tolist()
    if labels is not None:
        metrics["conditional_accuracy"] = float((predicted == labels).float().mean())
        metrics["fd_per_class_ratio"] = [
            None if fd is None or base is None else fd / max(base, 1e-12)
            for fd, base in zip(metrics["fd_per_class"], floor["fd_per_class"], strict=True)
        ]
    return metrics, samples, labels, predicted


@torch.no_grad()
def nearest_training_images(samples: torch.Tensor, train_x: torch.Tensor, chunk: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
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
