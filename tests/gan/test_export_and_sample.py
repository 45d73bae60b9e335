"""The ONNX generator matches torch, GAN params inherit, and `visionops sample` draws what is asked."""

import numpy as np
import pytest

from visionops import params as project_params
from visionops.core.errors import UserError
from visionops.gan import params as gan_params_module
from visionops.gan.networks import build_generator, gan_spec


@pytest.mark.parametrize("conditional", [False, True], ids=["dcgan", "cgan"])
def test_onnx_generator_matches_torch_with_a_dynamic_batch(tmp_path, conditional, gan_params):
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


def test_sample_cli_draws_the_asked_for_class_and_refuses_bad_requests(tmp_path, capsys, gan_params):
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
