"""Training on device-resident data: it learns, keeps last/best checkpoints, resumes, and stops on a NaN loss."""

import re

import pytest
import pytorch_lightning as pl
import torch

from visionops.classifier.fit import fit_classifier
from visionops.classifier.module import ClassifierModule
from visionops.classifier.params import ClassifierParams
from visionops.core.errors import UserError
from visionops.data.prepare import Prepared


@pytest.fixture(scope="module")
def data(idx_arrays):
    arrays = idx_arrays(n_train=600, n_test=100)
    x = torch.from_numpy(arrays["train-images-idx3-ubyte"].copy())[:, None]
    y = torch.from_numpy(arrays["train-labels-idx1-ubyte"].astype("int64"))
    tx = torch.from_numpy(arrays["t10k-images-idx3-ubyte"].copy())[:, None]
    ty = torch.from_numpy(arrays["t10k-labels-idx1-ubyte"].astype("int64"))
    return Prepared(x[:500], y[:500], x[500:], y[500:], tx, ty, [f"c{i}" for i in range(10)], 0.2, 0.3)


def _params(**overrides):
    base = dict(
        network="resnet", resnet_widths=(8, 16, 16), epochs=3, batch_size=50, lr=0.01, accelerator="cpu", devices=1
    )
    return ClassifierParams(**{**base, **overrides})


def test_training_learns_and_keeps_last_and_best(data, tmp_path, capsys):
    result = fit_classifier(_params(), data, ckpt_dir=tmp_path / "ckpt", data_digest="digest")
    assert result.metrics["test_acc_torch"] > 0.5  # chance is 0.1; the classes are drawn as bars
    assert (tmp_path / "ckpt" / "last.ckpt").is_file() and (tmp_path / "ckpt" / "best.ckpt").is_file()
    assert result.resumed_from is None
    assert "epoch 3/3:" in capsys.readouterr().out


class _Interrupt(pl.Callback):
    def on_train_epoch_start(self, trainer, module):
        if trainer.current_epoch == 2:
            raise RuntimeError("killed")


def test_an_interrupted_run_resumes_from_last(data, tmp_path):
    with pytest.raises(RuntimeError, match="killed"):
        fit_classifier(_params(), data, ckpt_dir=tmp_path / "ckpt", data_digest="digest", callbacks=[_Interrupt()])
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)["epoch"] == 1
    result = fit_classifier(_params(), data, ckpt_dir=tmp_path / "ckpt", data_digest="digest")
    assert result.resumed_from == str(tmp_path / "ckpt" / "last.ckpt")
    assert result.metrics["epochs"] == 3


def test_only_an_unfinished_run_with_the_same_params_is_resumed(data, tmp_path):
    with pytest.raises(RuntimeError, match="killed"):
        fit_classifier(_params(), data, ckpt_dir=tmp_path / "ckpt", data_digest="digest", callbacks=[_Interrupt()])
    other = fit_classifier(_params(lr=0.02), data, ckpt_dir=tmp_path / "ckpt", data_digest="digest")
    assert other.resumed_from is None and other.metrics["epochs"] == 3
    again = fit_classifier(
        _params(lr=0.02), data, ckpt_dir=tmp_path / "ckpt", data_digest="digest"
    )  # the last run finished
    assert again.resumed_from is None


def test_a_nan_loss_stops_training_with_a_clear_message(data, tmp_path):
    class Poisoned(pl.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if trainer.current_epoch == 1:
                with torch.no_grad():
                    module.network.head[-1].weight.fill_(float("nan"))

    with pytest.raises(UserError, match="training diverged: training loss is nan .* last good checkpoint is kept"):
        fit_classifier(_params(), data, ckpt_dir=tmp_path / "ckpt", data_digest="digest", callbacks=[Poisoned()])
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)["epoch"] == 0


def test_gradients_reach_the_network_from_the_module(data):
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    module = ClassifierModule(net, 10, lr=0.1, weight_decay=0.0)
    x = data.train_x[:8].float() / 255
    loss = module.loss(module(x), data.train_y[:8])
    loss.backward()
    assert net[1].weight.grad is not None and net[1].weight.grad.abs().sum() > 0


def _linear_classifier(data, adversarial):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    x = data.train_x.float() / 255
    for _ in range(50):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), data.train_y).backward()
        opt.step()
    return ClassifierModule(net, 10, lr=0.01, weight_decay=0.0, adversarial=adversarial)


def _validate(module, data, inference_mode):
    from visionops.core.batches import DeviceDataModule
    from visionops.core.sections import AugmentParams

    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        inference_mode=inference_mode,
    )
    return trainer.validate(
        module,
        datamodule=DeviceDataModule(data.splits(), batch_size=50, augment=AugmentParams(), seed=0),
        verbose=False,
    )[0]


def test_attacks_get_input_gradients_inside_lightning_validation(data):
    from visionops.classifier.params import AdversarialParams

    module = _linear_classifier(data, AdversarialParams(method="pgd", eps=0.3, check_images=100, check_steps=5))
    metrics = _validate(module, data, inference_mode=False)
    assert metrics["val/acc"] > 0.9
    assert metrics["val/pgd_acc"] < metrics["val/acc"] - 0.3  # the attack moved the images, so gradients flowed
    with pytest.raises(RuntimeError, match="does not require grad"):  # why an adversarial model's trainer turns it off
        _validate(module, data, inference_mode=True)


@pytest.mark.parametrize("method, step_size", [("fgsm_rs", 0.125), ("pgd", 0.03)])
def test_adversarial_training_keeps_the_epoch_with_the_best_pgd_accuracy(data, tmp_path, capsys, method, step_size):
    from visionops.classifier.params import AdversarialParams

    adversarial = AdversarialParams(
        method=method, eps=0.1, step_size=step_size, steps=3, check_images=50, check_steps=3
    )
    result = fit_classifier(
        _params(epochs=2, adversarial=adversarial), data, ckpt_dir=tmp_path / "ckpt", data_digest="digest"
    )
    assert 0.0 <= result.metrics["val_pgd_acc_best"] <= 1.0
    assert "val_acc_best" not in result.metrics
    best = torch.load(tmp_path / "ckpt" / "best.ckpt", weights_only=False)
    monitor = next(v for k, v in best["callbacks"].items() if k.startswith("ModelCheckpoint"))["monitor"]
    assert monitor == "val/pgd_acc"
    epochs = capsys.readouterr().out.splitlines()
    # every epoch's line shows that epoch's training loss beside its validation numbers, one line per epoch
    assert [line.split(":")[0] for line in epochs] == ["epoch 1/2", "epoch 2/2"]
    assert all(re.search(r": train/loss \d\.\d{4}, val/acc \d\.\d{4}, val/pgd_acc \d\.\d{4} \(", e) for e in epochs)
