"""Fixtures of the GAN tests: tiny data, params, a CPU trainer and its data module."""

import pytest
import torch

from visionops import params as project_params
from visionops.data.prepare import Prepared
from visionops.gan import params as gan_params_module


def tiny_data_of(n: int = 64, classes: int = 3) -> Prepared:
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 1, 28, 28), generator=gen, dtype=torch.uint8)
    y = torch.arange(n) % classes
    return Prepared(x, y, x[:8], y[:8], x[:8], y[:8], [f"c{k}" for k in range(classes)], 0.5, 0.3)


def gan_params_of(conditional: bool, **overrides) -> gan_params_module.GANParams:
    raw = {"gan": {"width": 8, "batch_size": 16, "epochs": 1, "limit_train_batches": 2, "accelerator": "cpu"}}
    if conditional:
        raw["conditional_gan"] = {"conditional": True, "loss": "hinge", "spectral_norm": True, "minibatch_std": True}
    section = "conditional_gan" if conditional else "gan"
    raw[section] = {**raw.get(section, {}), **overrides}
    return project_params.validate(raw).section(section, gan_params_module.GANParams)


def trainer_of(**kwargs):
    import pytorch_lightning as pl

    defaults = dict(
        max_epochs=1,
        limit_train_batches=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
    )
    return pl.Trainer(**{**defaults, **kwargs})


def datamodule_of(data: Prepared, batch_size: int):
    from visionops.core.batches import DeviceDataModule
    from visionops.core.sections import AugmentParams

    return DeviceDataModule(data.splits(), batch_size=batch_size, augment=AugmentParams(flip=False), seed=0)


@pytest.fixture(scope="session")
def tiny_data():
    """tiny_data(n=64, classes=3): random uint8 images as a Prepared dataset."""
    return tiny_data_of


@pytest.fixture(scope="session")
def gan_params():
    """gan_params(conditional, **overrides): small GAN params, validated as params.yaml would be."""
    return gan_params_of


@pytest.fixture(scope="session")
def trainer():
    """trainer(**kwargs): a quiet one-epoch CPU Lightning trainer."""
    return trainer_of


@pytest.fixture(scope="session")
def datamodule():
    """datamodule(data, batch_size): the device-resident data module over `data`."""
    return datamodule_of
