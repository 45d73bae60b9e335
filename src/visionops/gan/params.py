"""The GANs' params sections: `gan` (the DCGAN), its variant `conditional_gan`, and `gan_evaluation`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from visionops.core.config import Section
from visionops.core.sections import Accelerator, BatchLimit, Seed

VARIANTS = {"conditional_gan": "gan"}


class GANParams(Section):
    """One GAN: `gan` is the DCGAN; `conditional_gan` lists what differs and takes the rest from `gan`."""

    conditional: bool = False  # class-conditional G (label embedding) and projection D
    loss: Literal["non_saturating", "hinge"] = "non_saturating"
    spectral_norm: bool = False  # in D, in place of batch norm
    minibatch_std: bool = False  # D sees the batch's spread (Karras et al. 2018): counters a collapsing G
    latent_dim: int = Field(64, ge=1, le=1024)
    width: int = Field(32, ge=1, le=1024)  # G's channels at 14x14 (twice that at 7x7); D mirrors it
    epochs: int = Field(2, ge=1)
    batch_size: int = Field(64, ge=2)
    limit_train_batches: BatchLimit = 1.0
    lr_g: float = Field(0.0005, gt=0.0, le=1.0)
    lr_d: float = Field(0.0005, gt=0.0, le=1.0)
    beta1: float = Field(0.5, ge=0.0, lt=1.0)
    beta2: float = Field(0.999, ge=0.0, lt=1.0)
    d_steps: int = Field(1, ge=1, le=10)  # D updates per G update
    mode_seeking: float = Field(0.0, ge=0.0)  # weight of MSGAN's diversity term in G's loss (Mao et al. 2019)
    ema_decay: float = Field(0.995, ge=0.0, lt=1.0)  # of G's weights; the average is what is evaluated and shipped
    d_grad_clip: float = Field(0.0, ge=0.0)  # max norm of D's gradient; 0: no clipping
    collapse_std: float = Field(1e-4, ge=0.0)  # D's outputs over a batch with a smaller std: D has collapsed, stop
    log_every_n_steps: int = Field(10, ge=1)
    accelerator: Accelerator = "auto"  # a GAN trains on one device (cpu or one GPU)
    precision: Literal["32-true", "bf16-mixed", "16-mixed"] = "32-true"
    seed: Seed = 0


class GANEvaluationParams(Section):
    samples: int = Field(5000, ge=10)  # N generated images, and N real training images for the floor
    seed: Seed = 0
    knn_k: int = Field(3, ge=1, le=50)  # precision/recall neighbourhoods (Kynkaanniemi et al. use 3)
    kid_subsets: int = Field(50, ge=1)
    kid_subset_size: int = Field(1000, ge=2)
    grid_per_class: int = Field(8, ge=1, le=32)
    interpolation_steps: int = Field(10, ge=2, le=32)
    neighbours: int = Field(8, ge=0, le=32)  # samples shown beside their nearest training image
    batch_size: int = Field(1000, ge=1)
