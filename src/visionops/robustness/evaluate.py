"""Robust accuracy against eps for one model, and the sanity checks that expose gradient masking.

Following Carlini et al. (2019), "On Evaluating Adversarial Robustness": accuracy at eps 0 must be the clean
accuracy, must not rise with eps, must be lower under PGD than under FGSM, must not rise with more PGD steps
or restarts, and must be near zero at an eps that lets the attacker erase the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from visionops.robustness.attacks import Loss, Model, fgsm_direction, fgsm_step, pgd


@dataclass(frozen=True)
class PGDSettings:
    steps: int
    restarts: int
    losses: tuple[Loss, ...] = ("ce", "margin")
    step_scale: float = 2.5  # step size = step_scale * eps / steps (Madry et al.)

    def step_size(self, eps: float) -> float:
        return self.step_scale * eps / self.steps

    def weaker(self) -> PGDSettings:
        """Half the steps (same step size) and one restart: never stronger than self."""
        steps = max(1, self.steps // 2)
        return PGDSettings(steps, 1, self.losses, self.step_scale * steps / self.steps)


@dataclass
class RobustnessCurve:
    clean: float
    eps: list[float]
    fgsm: list[float]
    pgd: list[float]
    weaker_pgd: float  # at the headline eps
    large_eps: float
    large_eps_pgd: float
    headline_eps: float
    images: int
    adversarial: torch.Tensor = field(repr=False)  # PGD images at the headline eps
    predictions: torch.Tensor = field(repr=False)  # the model's labels for them
    clean_predictions: torch.Tensor = field(repr=False)

    def at(self, eps: float, attack: str = "pgd") -> float:
        return getattr(self, attack)[self.eps.index(eps)]


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def _batched_accuracy(model: Model, x: torch.Tensor, y: torch.Tensor, batch: int) -> tuple[float, torch.Tensor]:
    with torch.no_grad():
        preds = torch.cat([model(x[i : i + batch]).argmax(1) for i in range(0, len(y), batch)])
    return (preds == y).sum().item() / len(y), preds


def worst_case_pgd(
    model: Model,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    *,
    settings: PGDSettings,
    batch: int,
    seed: int,
    clean_predictions: torch.Tensor | None = None,
) -> torch.Tensor:
    """PGD with every loss in `settings`, each attacking only the examples the previous ones left correct.

    `clean_predictions`, the model's labels for x if the caller has them, saves the first pass over x.
    """
    adv = x.clone()
    generator = torch.Generator(device=x.device)
    generator.manual_seed(seed)
    for number, loss in enumerate(settings.losses):
        if number == 0 and clean_predictions is not None:
            preds = clean_predictions
        else:
            _, preds = _batched_accuracy(model, adv, y, batch)
        left = (preds == y).nonzero().squeeze(1)
        for i in range(0, len(left), batch):
            idx = left[i : i + batch]
            adv[idx] = pgd(
                model,
                x[idx],
                y[idx],
                eps,
                steps=settings.steps,
                step_size=settings.step_size(eps),
                restarts=settings.restarts,
                loss=loss,
                generator=generator,
            )
    return adv


def robustness_curve(
    model: Model,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps_list: list[float],
    headline_eps: float,
    settings: PGDSettings,
    large_eps: float = 0.5,
    batch: int = 500,
    seed: int = 0,
) -> RobustnessCurve:
    """Clean, FGSM and PGD accuracy at each eps, plus what the sanity checks need."""
    clean, clean_preds = _batched_accuracy(model, x, y, batch)
    attack = dict(batch=batch, clean_predictions=clean_preds)
    direction = torch.cat([fgsm_direction(model, x[i : i + batch], y[i : i + batch]) for i in range(0, len(y), batch)])
    fgsm_acc, pgd_acc = [], []
    headline, headline_preds = x, clean_preds
    for eps in eps_list:
        fgsm_acc.append(_batched_accuracy(model, fgsm_step(x, direction, eps), y, batch)[0])
        pgd_x = worst_case_pgd(model, x, y, eps, settings=settings, seed=seed, **attack)
        accuracy, preds = _batched_accuracy(model, pgd_x, y, batch)
        pgd_acc.append(accuracy)
        if eps == headline_eps:
            headline, headline_preds = pgd_x, preds
    weaker = _batched_accuracy(
        model,
        worst_case_pgd(model, x, y, headline_eps, settings=settings.weaker(), seed=seed + 1, **attack),
        y,
        batch,
    )[0]
    large = _batched_accuracy(
        model, worst_case_pgd(model, x, y, large_eps, settings=settings, seed=seed + 2, **attack), y, batch
    )[0]
    return RobustnessCurve(
        clean=clean,
        eps=list(eps_list),
        fgsm=fgsm_acc,
        pgd=pgd_acc,
        weaker_pgd=weaker,
        large_eps=large_eps,
        large_eps_pgd=large,
        headline_eps=headline_eps,
        images=len(y),
        adversarial=headline,
        predictions=headline_preds,
        clean_predictions=clean_preds,
    )


def sanity_checks(curve: RobustnessCurve, tolerance: float, large_eps_max_accuracy: float) -> list[Check]:
    """Each check that a trustworthy evaluation passes; `tolerance` absorbs the noise of a finite test subset."""

    def rises(values: list[float]) -> list[str]:
        pairs = zip(curve.eps, values, curve.eps[1:], values[1:])
        return [f"{a:.4f} at eps {e0} -> {b:.4f} at eps {e1}" for e0, a, e1, b in pairs if b > a + tolerance]

    checks = []
    if 0.0 in curve.eps:
        at0 = {attack: curve.at(0.0, attack) for attack in ("fgsm", "pgd")}
        ok = all(abs(v - curve.clean) <= 1e-9 for v in at0.values())
        checks.append(
            Check(
                "eps0_is_clean", ok, f"clean {curve.clean:.4f}, FGSM {at0['fgsm']:.4f}, PGD {at0['pgd']:.4f} at eps 0"
            )
        )
    for attack in ("fgsm", "pgd"):
        bad = rises(getattr(curve, attack))
        checks.append(Check(f"{attack}_monotone", not bad, "; ".join(bad) or "never rises with eps"))
    above = [
        f"eps {e}: PGD {p:.4f} > FGSM {f:.4f}" for e, f, p in zip(curve.eps, curve.fgsm, curve.pgd) if p > f + tolerance
    ]
    checks.append(Check("pgd_below_fgsm", not above, "; ".join(above) or "PGD <= FGSM at every eps"))
    strong = curve.at(curve.headline_eps)
    checks.append(
        Check(
            "stronger_pgd_not_worse",
            strong <= curve.weaker_pgd + tolerance,
            f"at eps {curve.headline_eps}: PGD {strong:.4f}, "
            f"weaker PGD (half the steps, one restart) {curve.weaker_pgd:.4f}",
        )
    )
    checks.append(
        Check(
            "large_eps_near_zero",
            curve.large_eps_pgd <= large_eps_max_accuracy,
            f"PGD accuracy {curve.large_eps_pgd:.4f} at eps {curve.large_eps} (must be <= {large_eps_max_accuracy})",
        )
    )
    return checks
