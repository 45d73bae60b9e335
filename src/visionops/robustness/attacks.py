"""FGSM, FGSM with a random start, and PGD with restarts, on any `pixels -> logits` callable.

Every attack returns images in [0, 1] within `eps` of the input (L-infinity). Gradients are enabled inside,
so the attacks also work where the caller runs under `torch.no_grad()`; `torch.inference_mode()` cannot be
undone from inside, which is why Lightning runs that attack need `Trainer(inference_mode=False)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F

Model = Callable[[torch.Tensor], torch.Tensor]
Loss = Literal["ce", "margin"]


def margin_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Carlini-Wagner margin per example: best other logit minus the true one (> 0 means misclassified)."""
    true = logits.gather(1, labels[:, None]).squeeze(1)
    others = logits.masked_fill(F.one_hot(labels, logits.shape[1]).bool(), float("-inf"))
    return others.amax(1) - true


def attack_loss(logits: torch.Tensor, labels: torch.Tensor, loss: Loss) -> torch.Tensor:
    """Per-example loss the attacker ascends."""
    if loss == "ce":
        return F.cross_entropy(logits.float(), labels, reduction="none")
    if loss == "margin":
        return margin_loss(logits.float(), labels)
    raise ValueError(f"unknown attack loss {loss!r} (allowed: ce, margin)")


def _input_gradient(
    model: Model, x: torch.Tensor, labels: torch.Tensor, loss: Loss
) -> tuple[torch.Tensor, torch.Tensor]:
    """(gradient of the summed loss w.r.t. x, logits at x), with one forward and one backward pass."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        logits = model(x)
        (grad,) = torch.autograd.grad(attack_loss(logits, labels, loss).sum(), x)
    return grad, logits.detach()


def _project(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    return torch.max(torch.min(x_adv, x + eps), x - eps).clamp_(0.0, 1.0)


def random_start(x: torch.Tensor, eps: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A uniform point of the eps-ball around x, clipped to [0, 1]."""
    noise = torch.rand(x.shape, device=x.device, generator=generator, dtype=x.dtype).mul_(2).sub_(1).mul_(eps)
    return (x + noise).clamp_(0.0, 1.0)


def fgsm_direction(model: Model, x: torch.Tensor, labels: torch.Tensor, *, loss: Loss = "ce") -> torch.Tensor:
    """The sign of the loss gradient at x: FGSM at every eps steps along it, so a sweep over eps needs it once."""
    grad, _ = _input_gradient(model, x, labels, loss)
    return grad.sign()


def fgsm_step(x: torch.Tensor, direction: torch.Tensor, eps: float) -> torch.Tensor:
    """FGSM's image at eps, given `fgsm_direction` at x."""
    return _project(x + eps * direction, x, eps).detach()


def fgsm(model: Model, x: torch.Tensor, labels: torch.Tensor, eps: float, *, loss: Loss = "ce") -> torch.Tensor:
    """Goodfellow et al. (2015): one signed-gradient step of size eps."""
    if eps == 0:
        return x.detach().clone()
    return fgsm_step(x, fgsm_direction(model, x, labels, loss=loss), eps)


def fgsm_random_start(
    model: Model,
    x: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    *,
    step_size: float,
    loss: Loss = "ce",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Wong et al. (2020), 'fast adversarial training': a uniform random start, then one step of step_size."""
    if eps == 0:
        return x.detach().clone()
    start = random_start(x, eps, generator)
    grad, _ = _input_gradient(model, start, labels, loss)
    return _project(start + step_size * grad.sign(), x, eps).detach()


def pgd(
    model: Model,
    x: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    *,
    steps: int,
    step_size: float,
    restarts: int = 1,
    loss: Loss = "ce",
    generator: torch.Generator | None = None,
    random_init: bool = True,
    stop_when_fooled: bool = True,
) -> torch.Tensor:
    """Madry et al. (2018): projected signed-gradient ascent from random starts.

    Per example the worst case over every step of every restart is kept: an example once misclassified stays
    misclassified, and otherwise the point with the largest margin loss is returned. With `stop_when_fooled`
    an example leaves the batch as soon as it is misclassified, as in AutoAttack: that is what makes many
    steps and restarts affordable, and it cannot change which examples end up fooled. Adversarial training
    turns it off, since it wants the highest loss, not merely a wrong label.
    """
    best = x.detach().clone()
    if eps == 0 or steps == 0:
        return best
    with torch.no_grad():
        best_margin = margin_loss(model(best), labels)
    for _ in range(restarts):
        idx = (
            (best_margin <= 0).nonzero().squeeze(1) if stop_when_fooled else torch.arange(len(labels), device=x.device)
        )
        if idx.numel() == 0:
            break
        x0, y0 = x[idx].detach(), labels[idx]
        x_adv = random_start(x0, eps, generator) if random_init else x0.clone()
        for step in range(steps + 1):
            if step < steps:
                grad, logits = _input_gradient(model, x_adv, y0, loss)
            else:  # the last iterate is only scored
                with torch.no_grad():
                    logits = model(x_adv)
            margin = margin_loss(logits, y0)
            better = margin > best_margin[idx]
            best[idx[better]] = x_adv[better]
            best_margin[idx[better]] = margin[better]
            if step == steps:
                break
            x_adv = _project(x_adv + step_size * grad.sign(), x0, eps)
            if stop_when_fooled:
                live = best_margin[idx] <= 0
                if not live.all():
                    idx, x0, y0, x_adv = idx[live], x0[live], y0[live], x_adv[live]
                    if idx.numel() == 0:
                        break
    return best.detach()
