"""The ONNX captioner pair decodes exactly as torch, and `visionops caption` reads scenes."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from visionops.captioning.decode import TorchStepper, beam_search, greedy
from visionops.captioning.vocab import Vocab


@pytest.fixture(scope="module")
def onnx_pair(tmp_path_factory, tiny_captioner):
    """A tiny attention captioner, saved and exported as the caption_export stage does (each part in a process)."""
    from visionops.captioning.export import export_in_subprocess
    from visionops.core.model_file import save_model

    folder = tmp_path_factory.mktemp("captioner")
    vocab = Vocab.build(["a small sneaker left of a large bag", "a bag", "there is a coat"])
    spec = {
        "network": "captioner",
        "decoder": "attention",
        "encoder": "scratch",
        "classifier_spec": None,
        "in_channels": 1,
        "image_shape": [1, 56, 56],
        "mean": 0.2,
        "std": 0.3,
        "feature_dim": 16,
        "grid": 49,
        "embed_dim": 8,
        "hidden_dim": 16,
        "attention_dim": 8,
        "dropout": 0.0,
        "vocab": vocab.words,
        "max_length": 10,
        "beam_width": 3,
        "scratch_width": 4,
    }
    captioner = tiny_captioner("attention", len(vocab))
    # sharpen the logits and the image's pull on the first state, so captions differ from image to image
    with torch.no_grad():
        captioner.decoder.out.weight.mul_(20)
        captioner.decoder.init_h.weight.mul_(30)
    save_model(folder / "captioner.pt", spec, captioner.state_dict())
    for part, name in (("encoder", "encoder.onnx"), ("decoder_step", "decoder_step.onnx")):
        export_in_subprocess(folder / "captioner.pt", part, folder / name, 18)
    return folder, captioner, vocab


def test_onnx_pair_decodes_exactly_as_torch(onnx_pair):
    from visionops.captioning.runtime import load_ort_captioner

    folder, captioner, vocab = onnx_pair
    ort = load_ort_captioner(folder)
    rng = np.random.default_rng(1)
    images = (np.linspace(0, 1, 33)[:, None, None, None] * rng.random((33, 1, 56, 56))).astype(np.float32)
    for width in (1, 3):
        decode_torch = greedy if width == 1 else partial(beam_search, width=3)
        torch_ids = decode_torch(TorchStepper(captioner), images, bos=vocab.bos, eos=vocab.eos, max_length=10)
        assert ort.caption(images, width) == [vocab.decode(r) for r in torch_ids]
    assert len(set(ort.caption(images, 1))) > 1  # not one caption for every image


def test_caption_cli_reads_scenes_and_refuses_other_sizes(onnx_pair, tmp_path, capsys):
    from PIL import Image

    from visionops.cli import main

    folder, _, _ = onnx_pair
    scene = (np.random.default_rng(2).random((56, 56)) * 255).astype(np.uint8)
    Image.fromarray(scene).save(tmp_path / "scene.png")
    Image.fromarray(np.kron(scene, np.ones((2, 2), np.uint8))).save(tmp_path / "big.png")  # 112x112
    Image.fromarray(scene[:, :40]).save(tmp_path / "odd.png")
    main(["caption", "--model", str(folder), str(tmp_path / "scene.png"), str(tmp_path / "big.png")])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].split("\t")[1] == lines[1].split("\t")[1]  # 112x112 is averaged down
    for argv, message in (
        ([str(tmp_path / "odd.png")], "is 40x56; the captioner reads 56x56"),
        (["--beam", "0", str(tmp_path / "scene.png")], "beam width must be 1"),
        ([str(tmp_path / "missing.png")], "no such file"),
    ):
        with pytest.raises(SystemExit) as stop:
            main(["caption", "--model", str(folder), *argv])
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["caption", "--model", str(tmp_path / "nowhere"), str(tmp_path / "scene.png")])
    assert "is missing" in capsys.readouterr().err
