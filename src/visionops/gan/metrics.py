"""Sample-quality metrics in a classifier's feature space: FD and KID (torchmetrics), k-NN precision/recall
(Kynkäänniemi et al. 2019), conditional accuracy. No Inception weights offline, so the features are the
penultimate layer of this project's own classifier: numbers compare across runs of this project only.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class _Precomputed(nn.Identity):
    """torchmetrics' FD/KID take a feature module; features are computed once, so it passes them through."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features


@contextmanager
def _last_linear_input(network: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Capture what enters the classifier's last linear layer: its penultimate features."""
    last = [m for m in network.modules() if isinstance(m, nn.Linear)][-1]
    captured: list[torch.Tensor] = []
    handle = last.register_forward_pre_hook(lambda module, inputs: captured.append(inputs[0].detach()))
    try:
        yield captured
    finally:
        handle.remove()


@torch.no_grad()
def features_and_logits(
    classifier: nn.Module, pixels: torch.Tensor, batch_size: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features [N, D] (float64) and logits [N, K] for float pixels in [0, 1] (or uint8 0-255)."""
    classifier = classifier.eval()
    feats, logits = [], []
    for i in range(0, len(pixels), batch_size):
        batch = pixels[i : i + batch_size]
        batch = batch.float() / 255.0 if batch.dtype == torch.uint8 else batch.float()
        with _last_linear_input(classifier) as captured:
            logits.append(classifier(batch))
        feats.append(captured[0].flatten(1).double())
    return torch.cat(feats), torch.cat(logits)


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FD between Gaussians fitted to two feature sets [N, D] (torchmetrics' FID with these features)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=_Precomputed(real.shape[1]))
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return max(0.0, float(metric.compute()))


def kernel_distance(
    real: torch.Tensor, fake: torch.Tensor, *, subsets: int, subset_size: int, seed: int = 0
) -> tuple[float, float]:
    """KID (mean, std over subsets): the unbiased polynomial-kernel MMD, torchmetrics' implementation."""
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(subset_size, len(real), len(fake))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")  # they are few here
        metric = KernelInceptionDistance(feature=_Precomputed(real.shape[1]), subsets=subsets, subset_size=size)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # its subsets are drawn with the global generator
    try:
        mean, std = metric.compute()
    finally:
        torch.random.set_rng_state(state)
    return float(mean), float(std)


def knn_radii(feats: torch.Tensor, k: int, chunk: int = 1000) -> torch.Tensor:
    """Distance from each point to its k-th nearest neighbour within the set (itself excluded)."""
    radii = []
    for i in range(0, len(feats), chunk):
        d = torch.cdist(feats[i : i + chunk], feats)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # the 1st is the point itself, at distance 0
    return torch.cat(radii)


def _coverage(manifold: torch.Tensor, radii: torch.Tensor, queries: torch.Tensor, chunk: int) -> float:
    """Share of queries inside the union of balls (manifold[i], radii[i])."""
    inside = []
    for i in range(0, len(queries), chunk):
        d = torch.cdist(queries[i : i + chunk], manifold)
        inside.append((d <= radii[None, :]).any(dim=1))
    return float(torch.cat(inside).float().mean())


def precision_recall(
    real: torch.Tensor, fake: torch.Tensor, *, k: int = 3, chunk: int = 1000, real_radii: torch.Tensor | None = None
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Precision: share of fakes inside the real manifold (k-NN balls around real features): are samples realistic?
    Recall: share of reals inside the fake manifold: is the data's variety covered?
    Written here: torchmetrics has no k-NN precision/recall, and torch-fidelity's is tied to its own extractors.
    `real_radii` (from `knn_radii(real, k)`) saves recomputing them when one reference judges several sets.
    """
    real, fake = real.float(), fake.float()
    radii = knn_radii(real, k, chunk) if real_radii is None else real_radii
    precision = _coverage(real, radii, fake, chunk)
    recall = _coverage(fake, knn_radii(fake, k, chunk), real, chunk)
    return precision, recall


def sample_quality(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    k: int,
    kid_subsets: int,
    kid_subset_size: int,
    seed: int = 0,
    real_radii: torch.Tensor | None = None,
) -> dict[str, float]:
    """FD, KID and precision/recall of one feature set against the reference."""
    kid, kid_std = kernel_distance(real, fake, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed)
    precision, recall = precision_recall(real, fake, k=k, real_radii=real_radii)
    return {
        "fd": frechet_distance(real, fake),
        "kid": kid,
        "kid_std": kid_std,
        "precision": precision,
        "recall": recall,
    }
