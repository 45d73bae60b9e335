"""A GAN as a LightningModule with manual optimization: D and G steps, an EMA of G, guards against a NaN
loss and a collapsed D, and a sample grid from fixed noise after every epoch."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from visionops.gan.params import GANParams


class TrainingCollapsed(FloatingPointError):
    """Training cannot go on: a loss is not finite, or D's outputs no longer depend on its input."""


def discriminator_loss(kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    if kind == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()  # -log D(x) - log(1 - D(G(z)))


def generator_loss(kind: str, fake_logits: torch.Tensor) -> torch.Tensor:
    if kind == "hinge":
        return -fake_logits.mean()
    return F.softplus(-fake_logits).mean()  # non-saturating: -log D(G(z))


def mode_seeking_penalty(fake: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """MSGAN (Mao et al. 2019): 1 / (|G(z1) - G(z2)| / |z1 - z2|) over pairs of the batch's two halves, so a G
    that maps different noise of one class to the same image is penalised (mode collapse within a class)."""
    half = fake.shape[0] // 2
    images = (fake[:half] - fake[half : 2 * half]).abs().flatten(1).mean(1)
    noise = (z[:half] - z[half : 2 * half]).abs().mean(1)
    return 1.0 / ((images / noise).mean() + 1e-5)


def fixed_noise(latent_dim: int, num_classes: int, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Seeded noise (and, for a conditional G, labels cycling through the classes: one column per class)."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(count, latent_dim, generator=generator)
    labels = torch.arange(count) % num_classes if num_classes else None
    return z, labels


class GANModule(pl.LightningModule):
    def __init__(self, generator: nn.Module, discriminator: nn.Module, params: GANParams, grid_size: int = 80) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.generator, self.discriminator, self.params = generator, discriminator, params
        self.ema = AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(params.ema_decay), use_buffers=True)
        self.num_classes = getattr(generator, "num_classes", 0)
        z, labels = fixed_noise(params.latent_dim, self.num_classes, grid_size, params.seed)
        self.register_buffer("grid_z", z, persistent=False)
        self.register_buffer(
            "grid_labels", labels if labels is not None else torch.zeros(0, dtype=torch.long), persistent=False
        )

    def _labels(self, y: torch.Tensor) -> torch.Tensor | None:
        return y if self.num_classes else None

    def _where(self, batch_idx: int) -> str:
        # not global_step: under manual optimization it counts the steps of both optimizers
        return f"in epoch {self.current_epoch + 1}, batch {batch_idx + 1}"

    def _check(self, name: str, value: torch.Tensor, batch_idx: int) -> None:
        if not torch.isfinite(value):
            raise TrainingCollapsed(f"{name} is {value.item()} {self._where(batch_idx)}")

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        real, y = batch
        opt_g, opt_d = self.optimizers()
        n = real.shape[0]
        z = torch.randn(n, self.params.latent_dim, device=real.device)
        # the two halves of the batch share their labels, so the mode-seeking term compares like with like
        half_y = torch.randint(0, max(self.num_classes, 1), ((n + 1) // 2,), device=real.device)
        fake_y = torch.cat([half_y, half_y])[:n]
        fake = self.generator(z, self._labels(fake_y))

        real_logits = self.discriminator(real, self._labels(y))
        fake_logits = self.discriminator(fake.detach(), self._labels(fake_y))
        d_loss = discriminator_loss(self.params.loss, real_logits, fake_logits)
        self._check("the discriminator loss", d_loss, batch_idx)
        spread = torch.cat([real_logits, fake_logits]).detach().float().std()
        if spread < self.params.collapse_std:
            raise TrainingCollapsed(
                f"the discriminator's outputs are constant (std {spread.item():.1e}) {self._where(batch_idx)}"
            )
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(d_loss)
        d_grad_norm = torch.nn.utils.get_total_norm(
            [p.grad for p in self.discriminator.parameters() if p.grad is not None]
        )
        if self.params.d_grad_clip > 0:
            # in manual optimization the Trainer's gradient_clip_val does nothing
            self.clip_gradients(opt_d, gradient_clip_val=self.params.d_grad_clip, gradient_clip_algorithm="norm")
        opt_d.step()
        self.log_dict(
            {
                "train/d_loss": d_loss,
                "train/d_grad_norm": d_grad_norm,
                "train/d_real": real_logits.mean(),
                "train/d_fake": fake_logits.mean(),
            },
            on_step=True,
            on_epoch=True,
        )

        if (batch_idx + 1) % self.params.d_steps:
            return
        g_loss = generator_loss(self.params.loss, self.discriminator(fake, self._labels(fake_y)))
        self._check("the generator loss", g_loss, batch_idx)
        if self.params.mode_seeking > 0:
            g_loss = g_loss + self.params.mode_seeking * mode_seeking_penalty(fake, z)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(g_loss)
        opt_g.step()
        self.ema.update_parameters(self.generator)
        self.log("train/g_loss", g_loss, on_step=True, on_epoch=True)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images from the EMA generator, in eval mode (its batch norm uses running statistics)."""
        ema = self.ema.module.eval()
        return ema(z.to(self.device), None if labels is None else labels.to(self.device))

    def on_train_epoch_end(self) -> None:
        """Log the fixed-noise samples as an MLflow image, one step per epoch (the UI shows them as a slider)."""
        if self.logger is None or not hasattr(self.logger, "run_id") or not self.trainer.is_global_zero:
            return
        from visionops.gan.plots import grid_image

        samples = self.sample(self.grid_z, self.grid_labels if self.num_classes else None).cpu()
        self.logger.experiment.log_image(
            self.logger.run_id, grid_image(samples, self.num_classes or 10), key="samples", step=self.current_epoch + 1
        )

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        betas = (self.params.beta1, self.params.beta2)
        return [
            torch.optim.Adam(self.generator.parameters(), lr=self.params.lr_g, betas=betas),
            torch.optim.Adam(self.discriminator.parameters(), lr=self.params.lr_d, betas=betas),
        ]

    def state_dict_for_export(self) -> dict[str, Any]:
        """The EMA generator's weights, as a plain generator's state dict."""
        return {k: v.detach().cpu() for k, v in self.ema.module.state_dict().items()}
