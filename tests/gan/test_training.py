"""GAN training: a step moves both networks, D steps, and the guards that stop bad training."""

import pytest
import torch

from visionops.core.errors import UserError
from visionops.gan.module import GANModule, TrainingCollapsed
from visionops.gan.networks import build_discriminator, build_generator, gan_spec


@pytest.mark.parametrize("conditional", [False, True], ids=["dcgan", "cgan"])
def test_one_training_step_changes_both_generator_and_discriminator(
    conditional, tiny_data, gan_params, trainer, datamodule
):
    params = gan_params(conditional)
    data = tiny_data()
    spec = gan_spec(params, 3, 1)
    module = GANModule(build_generator(spec), build_discriminator(spec, params), params, grid_size=6)
    before_g = [p.detach().clone() for p in module.generator.parameters()]
    # weights only: at the start the hinge loss's gradient for D's output bias is exactly -1 + 1 = 0
    before_d = {n: p.detach().clone() for n, p in module.discriminator.named_parameters() if "weight" in n}
    before_ema = [p.detach().clone() for p in module.ema.module.parameters()]
    trainer().fit(module, datamodule=datamodule(data, 16))
    assert all(not torch.equal(a, b) for a, b in zip(before_g, module.generator.parameters(), strict=True))
    after_d = dict(module.discriminator.named_parameters())
    assert len(before_d) >= 4 and all(not torch.equal(before_d[n], after_d[n]) for n in before_d)
    assert any(not torch.equal(a, b) for a, b in zip(before_ema, module.ema.module.parameters(), strict=True))
    assert module.ema.n_averaged.item() == 1  # one G step


def test_d_steps_take_several_discriminator_updates_per_generator_update(tiny_data, gan_params, trainer, datamodule):
    params = gan_params(False, d_steps=2)
    spec = gan_spec(params, 3, 1)
    module = GANModule(build_generator(spec), build_discriminator(spec, params), params, grid_size=6)
    trainer(limit_train_batches=4).fit(module, datamodule=datamodule(tiny_data(), 16))
    assert module.ema.n_averaged.item() == 2


def test_a_discriminator_with_constant_outputs_stops_training(tiny_data, gan_params, trainer, datamodule):
    class ConstantD(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x, labels=None):
            return self.bias.expand(x.shape[0]) + 0 * x.flatten(1).sum(1)

    params = gan_params(False)
    spec = gan_spec(params, 3, 1)
    module = GANModule(build_generator(spec), ConstantD(), params, grid_size=6)
    with pytest.raises(TrainingCollapsed, match="outputs are constant"):
        trainer().fit(module, datamodule=datamodule(tiny_data(), 16))


def test_a_nan_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(
    tmp_path, monkeypatch, tiny_data, gan_params
):
    from visionops.core.lightning import FINGERPRINT_FILE, fingerprint, resumable_checkpoint
    from visionops.gan import module as gan_module
    from visionops.gan.fit import fit_gan

    params = gan_params(True, epochs=2)
    data = tiny_data()
    calls = {"n": 0}
    real_loss = gan_module.discriminator_loss

    def loss_going_nan(kind, real, fake):
        calls["n"] += 1
        loss = real_loss(kind, real, fake)
        return loss * float("nan") if calls["n"] > 2 else loss  # epoch 1 (2 batches) is fine, epoch 2 is not

    monkeypatch.setattr(gan_module, "discriminator_loss", loss_going_nan)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(
        UserError, match=r"discriminator loss is nan.*conditional_gan.lr_d.*last good checkpoint is kept"
    ):
        fit_gan(params, data, ckpt_dir=ckpt, data_digest="digest", section="conditional_gan")
    saved = torch.load(ckpt / "last.ckpt", weights_only=True)
    assert saved["epoch"] == 0 and all(
        torch.isfinite(v).all() for v in saved["state_dict"].values() if v.is_floating_point()
    )
    assert '"finished"' not in (ckpt / FINGERPRINT_FILE).read_text()
    assert resumable_checkpoint(ckpt, fingerprint(params, "digest", family="gan"), clean=False) == ckpt / "last.ckpt"

    monkeypatch.setattr(gan_module, "discriminator_loss", real_loss)
    result = fit_gan(
        params, data, ckpt_dir=ckpt, data_digest="digest", section="conditional_gan"
    )  # resumes and finishes epoch 2 only
    assert result.resumed_from == str(ckpt / "last.ckpt") and result.metrics["epochs"] == 2
    assert result.samples.shape == (24, 1, 28, 28)  # 8 rows, one column per class
