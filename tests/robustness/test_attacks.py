"""The attacks: they stay in the eps-ball, PGD beats FGSM where it must, and the worst case across restarts is kept."""

import pytest
import torch
from torch import nn

from visionops.robustness.attacks import fgsm, fgsm_random_start, margin_loss, pgd


class WindowModel(nn.Module):
    """Two classes over the mean brightness shift z of an image: class 1 only for z in a narrow window.

    From z = 0 the gradient points into the window, but one step of eps = 0.1 jumps over it (to z = 0.1), so FGSM
    fails on every image while PGD's small steps land inside it.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.mean((1, 2, 3)) - 0.5
        d = -1 + 2 * torch.exp(-(((z - 0.04) / 0.015) ** 2))
        return torch.stack([torch.zeros_like(d), d], 1)


class ThresholdModel(nn.Module):
    """Class 1 once the mean shift passes a threshold, with a flat gradient: only the random start decides."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.mean((1, 2, 3)) - 0.5
        return torch.stack([torch.zeros_like(z), (z - 0.0015) * 1e-6], 1)


def _grey(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.full((n, 1, 28, 28), 0.5), torch.zeros(n, dtype=torch.long)


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def test_every_attack_stays_in_the_ball_and_in_pixel_range():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    x, y = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
    for adv in (
        fgsm(model, x, y, 0.1),
        fgsm_random_start(model, x, y, 0.1, step_size=0.125),
        pgd(model, x, y, 0.1, steps=5, step_size=0.03, restarts=2),
    ):
        assert (adv - x).abs().max() <= 0.1 + 1e-6
        assert adv.min() >= 0 and adv.max() <= 1
        assert (adv != x).any()


def test_pgd_beats_fgsm_on_a_model_where_one_step_overshoots():
    model = WindowModel()
    x, y = _grey()
    assert _accuracy(model, x, y) == 1.0
    assert _accuracy(model, fgsm(model, x, y, 0.1), y) == 1.0
    assert _accuracy(model, pgd(model, x, y, 0.1, steps=10, step_size=0.025), y) == 0.0


@pytest.mark.parametrize("loss", ["ce", "margin"])
def test_the_worst_case_across_restarts_is_kept(loss):
    model = ThresholdModel()
    x, y = _grey(400)

    def fooled(restarts: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(0)
        adv = pgd(model, x, y, 0.1, steps=1, step_size=1e-6, restarts=restarts, loss=loss, generator=gen)
        with torch.no_grad():
            return model(adv).argmax(1) != y

    one, many = fooled(1), fooled(6)
    assert 0 < one.sum() < len(y)  # one random start fools some images, not all
    assert many[one].all()  # nothing one restart found is lost by the later ones
    assert many.sum() > one.sum()


def test_margin_loss_is_positive_exactly_when_misclassified():
    logits = torch.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0]])
    labels = torch.tensor([0, 0])
    assert margin_loss(logits, labels).tolist() == [-2.0, 2.0]


def test_eps_zero_leaves_images_unchanged():
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    x, y = torch.rand(4, 1, 28, 28), torch.zeros(4, dtype=torch.long)
    assert torch.equal(fgsm(model, x, y, 0.0), x)
    assert torch.equal(pgd(model, x, y, 0.0, steps=5, step_size=0.1), x)
