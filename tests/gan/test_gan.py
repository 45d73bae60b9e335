"""GANs: a training step moves both networks, the guards stop bad training, the metrics behave, ONNX matches torch."""

import numpy as np
import pytest
import torch

from visionops import params as project_params
from visionops.core.errors import UserError
from visionops.data.prepare import Prepared
from visionops.gan import params as gan_params_module
from visionops.gan.metrics import features_and_logits, frechet_distance, kernel_distance, precision_recall
from visionops.gan.module import GANModule, TrainingCollapsed
from visionops.gan.networks import build_discriminator, build_generator, gan_spec


def tiny_data(n: int = 64, classes: int = 3) -> Prepared:
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 1, 28, 28), generator=gen, dtype=torch.uint8)
    y = torch.arange(n) % classes
    return Prepared(x, y, x[:8], y[:8], x[:8], y[:8], [f"c{k}" for k in range(classes)], 0.5, 0.3)


def gan_params(conditional: bool, **overrides) -> gan_params_module.GANParams:
    raw = {"gan": {"width": 8, "batch_size": 16, "epochs": 1, "limit_train_batches": 2, "accelerator": "cpu"}}
    if conditional:
        raw["conditional_gan"] = {"conditional": True, "loss": "hinge", "spectral_norm": True, "minibatch_std": True}
    section = "conditional_gan" if conditional else "gan"
    raw[section] = {**raw.get(section, {}), **overrides}
    return project_params.validate(raw).section(section, gan_params_module.GANParams)


def trainer(**kwargs):
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


def datamodule(data: Prepared, batch_size: int):
    from visionops.core.batches import DeviceDataModule
    from visionops.core.sections import AugmentParams

    return DeviceDataModule(data.splits(), batch_size=batch_size, augment=AugmentParams(flip=False), seed=0)


@pytest.mark.parametrize("conditional", [False, True], ids=["dcgan", "cgan"])
def test_one_training_step_changes_both_generator_and_discriminator(conditional):
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


def test_d_steps_take_several_discriminator_updates_per_generator_update():
    params = gan_params(False, d_steps=2)
    spec = gan_spec(params, 3, 1)
    module = GANModule(build_generator(spec), build_discriminator(spec, params), params, grid_size=6)
    trainer(limit_train_batches=4).fit(module, datamodule=datamodule(tiny_data(), 16))
    assert module.ema.n_averaged.item() == 2


def test_a_discriminator_with_constant_outputs_stops_training():
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


def test_a_nan_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
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
    saved = torch.load(ckpt / "last.ckpt", weights_only=False)
    assert saved["epoch"] == 0 and all(
        torch.isfinite(v).all() for v in saved["state_dict"].values() if v.is_floating_point()
    )
    assert '"finished"' not in (ckpt / FINGERPRINT_FILE).read_text()
    assert resumable_checkpoint(ckpt, fingerprint(params, "digest"), clean=False) == ckpt / "last.ckpt"

    monkeypatch.setattr(gan_module, "discriminator_loss", real_loss)
    result = fit_gan(
        params, data, ckpt_dir=ckpt, data_digest="digest", section="conditional_gan"
    )  # resumes and finishes epoch 2 only
    assert result.resumed_from == str(ckpt / "last.ckpt") and result.metrics["epochs"] == 2
    assert result.samples.shape == (24, 1, 28, 28)  # 8 rows, one column per class


def test_frechet_distance_is_zero_for_a_set_against_itself_and_grows_with_noise():
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(2000, 16, generator=gen, dtype=torch.float64) @ torch.randn(
        16, 16, generator=gen, dtype=torch.float64
    )
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-6)
    distances = [
        frechet_distance(feats, feats + s * torch.randn(feats.shape, generator=gen, dtype=torch.float64))
        for s in (0.1, 0.5, 1.0, 2.0)
    ]
    assert distances == sorted(distances) and distances[0] > 0 and distances[-1] > 10 * distances[0]
    assert (
        kernel_distance(feats, feats, subsets=5, subset_size=500)[0]
        < kernel_distance(feats, feats + 2.0, subsets=5, subset_size=500)[0]
    )


def test_precision_and_recall_tell_realism_from_coverage():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(1000, 8, generator=gen)
    assert precision_recall(real, real.clone()) == (1.0, 1.0)
    collapsed = real[:1].repeat(500, 1) + 0.01 * torch.randn(500, 8, generator=gen)  # realistic, no variety
    precision, recall = precision_recall(real, collapsed)
    assert precision > 0.95 and recall < 0.05
    far = real + 100.0
    assert precision_recall(real, far) == (0.0, 0.0)


def test_features_are_the_input_of_the_classifier_s_last_linear_layer():
    from visionops.classifier.networks import build_network

    spec = {
        "network": "resnet",
        "num_classes": 10,
        "in_channels": 1,
        "mean": 0.0,
        "std": 1.0,
        "resnet_widths": [4, 8, 16],
        "resnet_blocks": 1,
        "resnet_stem_pool": True,
    }
    net = build_network(spec).eval()
    x = torch.rand(5, 1, 28, 28)
    features, logits = features_and_logits(net, x)
    assert features.shape == (5, 16) and features.dtype == torch.float64
    assert torch.allclose(net.head[-1](features.float()), logits, atol=1e-5)


@pytest.mark.parametrize("conditional", [False, True], ids=["dcgan", "cgan"])
def test_onnx_generator_matches_torch_with_a_dynamic_batch(tmp_path, conditional):
    import onnxruntime as ort

    from visionops.gan.export import export_generator, generator_parity
    from visionops.gan.sample import is_conditional, latent_dim

    params = gan_params(conditional)
    generator = build_generator(gan_spec(params, 3, 1)).eval()
    path = tmp_path / "generator.onnx"
    export_generator(generator, path, classes=["a", "b", "c"], opset=18)
    diffs = generator_parity(generator, path, (1, 7, 64))
    assert max(diffs.values()) < 1e-4
    sess = ort.InferenceSession(str(path))
    assert is_conditional(sess) == conditional and latent_dim(sess) == params.latent_dim


def test_gan_params_inherit_and_reject_bad_values():
    params = project_params.validate(
        {"gan": {"width": 16, "lr_d": 0.001}, "conditional_gan": {"conditional": True, "loss": "hinge"}}
    )
    assert (
        params.conditional_gan.width == 16
        and params.conditional_gan.lr_d == 0.001
        and params.conditional_gan.loss == "hinge"
    )
    assert params.gan.loss == "non_saturating"
    with pytest.raises(UserError, match=r"unknown key 'conditional_gan.learning_rate'"):
        project_params.validate({"conditional_gan": {"learning_rate": 0.1}})
    with pytest.raises(UserError, match=r"gan.loss"):
        project_params.validate({"gan": {"loss": "wasserstein"}})
    with pytest.raises(UserError, match=r"gan.ema_decay"):
        project_params.validate({"gan": {"ema_decay": 1.0}})
    with pytest.raises(UserError, match=r"promotion.cgan.floors.recall"):
        project_params.validate(
            {"promotion": {"cgan": {"registered_model": "g", "score": "fd_ratio", "floors": {"recall": "high"}}}}
        )
    with pytest.raises(UserError, match="not a GAN section"):
        params.section("classifier", gan_params_module.GANParams)


def test_sample_cli_draws_the_asked_for_class_and_refuses_bad_requests(tmp_path, capsys):
    from PIL import Image

    from visionops.cli import main
    from visionops.gan.export import export_generator

    cgan = build_generator(gan_spec(gan_params(True), 3, 1)).eval()
    dcgan = build_generator(gan_spec(gan_params(False), 3, 1)).eval()
    export_generator(cgan, tmp_path / "cgan.onnx", classes=["shirt", "bag", "boot"], opset=18)
    export_generator(dcgan, tmp_path / "dcgan.onnx", classes=["shirt", "bag", "boot"], opset=18)

    out = tmp_path / "bags.png"
    main(
        [
            "sample",
            str(out),
            "--n",
            "16",
            "--label",
            "bag",
            "--seed",
            "3",
            "--scale",
            "1",
            "--model",
            str(tmp_path / "cgan.onnx"),
        ]
    )
    assert "16 samples (class bag)" in capsys.readouterr().out
    assert Image.open(out).size == (2 + 8 * 30, 2 + 2 * 30)  # 8 columns, 2 rows of 28 px + 2 px gaps
    again = tmp_path / "again.png"
    main(
        [
            "sample",
            str(again),
            "--n",
            "16",
            "--label",
            "bag",
            "--seed",
            "3",
            "--scale",
            "1",
            "--model",
            str(tmp_path / "cgan.onnx"),
        ]
    )
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(again)))  # the seed fixes the grid

    for argv, message in (
        (["--label", "sock", "--model", str(tmp_path / "cgan.onnx")], "unknown class 'sock'"),
        (["--label", "bag", "--model", str(tmp_path / "dcgan.onnx")], "not a conditional generator"),
        (["--n", "0", "--model", str(tmp_path / "cgan.onnx")], "--n must be between"),
        (["--model", str(tmp_path / "missing.onnx")], "missing.onnx is missing"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["sample", str(tmp_path / "x.png"), *argv])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
        assert not (tmp_path / "x.png").exists()


def test_evaluation_of_a_generator_reports_ratios_against_the_real_floor():
    from visionops.classifier.networks import build_network
    from visionops.gan.evaluate import Reference, evaluate_generator, judge_features

    settings = gan_params_module.GANEvaluationParams(samples=60, kid_subsets=3, kid_subset_size=30)
    spec = {
        "network": "lenet5",
        "num_classes": 3,
        "in_channels": 1,
        "mean": 0.3,
        "std": 0.3,
        "resnet_widths": [8, 8, 8],
        "resnet_blocks": 1,
        "resnet_stem_pool": True,
    }
    torch.manual_seed(0)
    classifier = build_network(spec).eval()
    data = tiny_data(120)
    test_features, _ = features_and_logits(classifier, data.train_x[:60])
    reference = Reference.of(test_features, data.train_y[:60], 3, settings.knn_k)
    real_features, _ = features_and_logits(classifier, data.train_x[60:])
    floor = judge_features(reference, real_features, data.train_y[60:], settings)
    generator = build_generator(gan_spec(gan_params(True), 3, 1))
    metrics, samples, labels, predicted = evaluate_generator(generator, classifier, reference, floor, settings=settings)
    assert samples.shape == (60, 1, 28, 28) and labels.tolist() == [k % 3 for k in range(60)]
    assert metrics["fd_ratio"] == pytest.approx(metrics["fd"] / floor["fd"])
    assert metrics["fd_ratio"] > 1  # an untrained generator is further from the test set than real images are
    assert metrics["conditional_accuracy"] == pytest.approx(float((predicted == labels).float().mean()))
    assert len(metrics["fd_per_class"]) == 3 and sum(metrics["class_shares"]) == pytest.approx(1.0)


def test_nearest_training_image_finds_a_copied_image():
    from visionops.gan.evaluate import nearest_training_images

    train = tiny_data(200).train_x
    samples = torch.stack([train[17].float() / 255, train[150].float() / 255 + 0.01])
    nearest, distances = nearest_training_images(samples, train, chunk=64)
    assert torch.equal(nearest[0], train[17].float() / 255) and distances[0] == pytest.approx(0.0, abs=1e-5)
    assert torch.equal(nearest[1], train[150].float() / 255)
