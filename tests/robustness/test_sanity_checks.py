"""The robustness evaluation: its sanity checks pass on an honest model, and each one can fail."""

import dataclasses

import pytest
import torch
from torch import nn

from visionops.robustness.evaluate import PGDSettings, RobustnessCurve, robustness_curve, sanity_checks

EPS = [0.0, 0.05, 0.1, 0.2]


@pytest.fixture(scope="module")
def tiny_model_and_data():
    """A linear classifier trained for a few steps on images whose class is a bright bar's row."""
    torch.manual_seed(0)
    n = 400
    y = torch.arange(n) % 4
    x = torch.rand(n, 1, 28, 28) * 0.2
    for c in range(4):
        x[y == c, :, 4 + 5 * c : 7 + 5 * c, 4:24] = 0.9
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 4))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval(), x, y


def _curve(model, x, y, **kwargs):
    return robustness_curve(
        model,
        x,
        y,
        eps_list=EPS,
        headline_eps=0.1,
        settings=PGDSettings(steps=10, restarts=1),
        large_eps=0.5,
        batch=128,
        **kwargs,
    )


def test_an_honest_model_passes_every_check(tiny_model_and_data):
    model, x, y = tiny_model_and_data
    curve = _curve(model, x, y)
    assert curve.clean > 0.95
    checks = sanity_checks(curve, tolerance=0.005, large_eps_max_accuracy=0.05)
    assert {c.name for c in checks} == {
        "eps0_is_clean",
        "fgsm_monotone",
        "pgd_monotone",
        "pgd_below_fgsm",
        "stronger_pgd_not_worse",
        "large_eps_near_zero",
    }
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
    assert curve.at(0.2) < curve.clean  # the attack does something
    assert curve.adversarial.shape == x.shape and (curve.adversarial - x).abs().max() <= 0.1 + 1e-6


def test_a_model_with_masked_gradients_fails_the_large_eps_check(tiny_model_and_data):
    model, x, y = tiny_model_and_data

    class Quantised(nn.Module):
        """Rounds its input to 2 levels first: the gradient is zero almost everywhere, robustness is fake."""

        def forward(self, images):
            return model(torch.round(images))

    checks = {c.name: c for c in sanity_checks(_curve(Quantised(), x, y), 0.005, 0.05)}
    assert not checks["large_eps_near_zero"].passed
    assert "at eps 0.5" in checks["large_eps_near_zero"].detail


def _honest() -> RobustnessCurve:
    return RobustnessCurve(
        clean=0.9,
        eps=EPS,
        fgsm=[0.9, 0.7, 0.5, 0.3],
        pgd=[0.9, 0.6, 0.4, 0.1],
        weaker_pgd=0.45,
        large_eps=0.5,
        large_eps_pgd=0.0,
        headline_eps=0.1,
        images=1000,
        adversarial=torch.empty(0),
        predictions=torch.empty(0),
        clean_predictions=torch.empty(0),
    )


@pytest.mark.parametrize(
    "change, failing",
    [
        (dict(pgd=[0.85, 0.6, 0.4, 0.1]), "eps0_is_clean"),
        (dict(fgsm=[0.9, 0.7, 0.72, 0.3]), "fgsm_monotone"),
        (dict(pgd=[0.9, 0.4, 0.45, 0.1]), "pgd_monotone"),
        (dict(pgd=[0.9, 0.6, 0.55, 0.1], weaker_pgd=0.6), "pgd_below_fgsm"),
        (dict(weaker_pgd=0.35), "stronger_pgd_not_worse"),
        (dict(large_eps_pgd=0.3), "large_eps_near_zero"),
    ],
)
def test_each_check_fails_when_its_property_is_violated(change, failing):
    assert all(c.passed for c in sanity_checks(_honest(), 0.005, 0.05))
    checks = sanity_checks(dataclasses.replace(_honest(), **change), 0.005, 0.05)
    assert [c.name for c in checks if not c.passed] == [failing]
