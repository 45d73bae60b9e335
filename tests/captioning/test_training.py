"""Captioner params, training that stops on a NaN loss and resumes, and fine-tuning only the trunk's last blocks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionops import params as project_params
from visionops.captioning.params import CaptionerParams
from visionops.core.errors import UserError


def test_captioner_params_inherit_and_reject_bad_values():
    params = project_params.validate({"captioner": {"hidden_dim": 48}, "attention_captioner": {"decoder": "attention"}})
    assert params.attention_captioner.hidden_dim == 48 and params.attention_captioner.decoder == "attention"
    assert params.captioner.decoder == "show_tell"
    with pytest.raises(UserError, match=r"attention_captioner.beam_width"):
        project_params.validate({"attention_captioner": {"beam_width": 0}})
    with pytest.raises(UserError, match=r"captioner.decoder"):
        project_params.validate({"captioner": {"decoder": "transformer"}})
    with pytest.raises(UserError, match="not a captioner section"):
        params.section("gan", CaptionerParams)


@pytest.fixture
def scene_split(item_bank, compose_scenes):
    """scene_split(n, seed): a SceneSplit of n random-pixel scenes."""
    from visionops.data.scenes.compose import SceneSplit

    def make(n: int, seed: int) -> SceneSplit:
        items, labels = item_bank(0)
        items = np.random.default_rng(seed).integers(0, 255, items.shape).astype(np.uint8)
        layouts, images, masks, boxes, descriptions = compose_scenes(items, labels, n, seed)
        return SceneSplit(images, masks, boxes, layouts.labels, descriptions)

    return make


def test_a_nan_loss_stops_training_with_one_line_and_the_next_run_resumes(tmp_path, monkeypatch, scene_split):
    from visionops.captioning import module as caption_module
    from visionops.captioning.fit import fit_captioner
    from visionops.core.lightning import FINGERPRINT_FILE

    params = CaptionerParams(
        decoder="attention",
        encoder="scratch",
        scratch_width=4,
        embed_dim=8,
        hidden_dim=16,
        attention_dim=8,
        epochs=2,
        batch_size=16,
        accelerator="cpu",
    )
    train, val = scene_split(32, 0), scene_split(16, 1)
    real_loss = caption_module.CaptionModule._loss
    calls = {"n": 0}

    def loss_going_nan(self, inputs, seq):
        loss, accuracy = real_loss(self, inputs, seq)
        if self.training:
            calls["n"] += 1
        return (loss * float("nan") if calls["n"] > 2 else loss), accuracy  # epoch 1 (2 batches) is fine

    monkeypatch.setattr(caption_module.CaptionModule, "_loss", loss_going_nan)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(UserError, match=r"loss is nan in epoch 2, batch 1; lower attention_captioner.lr.*kept"):
        fit_captioner(
            params,
            train,
            val,
            mean=0.2,
            std=0.3,
            classifier=None,
            ckpt_dir=ckpt,
            data_digest="digest",
            section="attention_captioner",
        )
    assert (ckpt / "last.ckpt").is_file() and '"finished"' not in (ckpt / FINGERPRINT_FILE).read_text()

    monkeypatch.setattr(caption_module.CaptionModule, "_loss", real_loss)
    result = fit_captioner(
        params,
        train,
        val,
        mean=0.2,
        std=0.3,
        classifier=None,
        ckpt_dir=ckpt,
        data_digest="digest",
        section="attention_captioner",
    )
    assert result.resumed_from == str(ckpt / "last.ckpt") and result.metrics["epochs"] == 2
    assert result.spec["vocab"][:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]


def test_the_classifier_encoder_fine_tunes_only_its_last_blocks(tmp_path, scene_split):
    from visionops.captioning.fit import fit_captioner
    from visionops.classifier.networks import ResNet

    params = CaptionerParams(
        decoder="show_tell",
        encoder="classifier",
        finetune_blocks=1,
        embed_dim=8,
        hidden_dim=16,
        epochs=1,
        batch_size=16,
        accelerator="cpu",
    )
    classifier = ResNet(widths=(4, 8, 8), stem_pool=True).eval()
    before = {k: v.clone() for k, v in classifier.state_dict().items()}
    result = fit_captioner(
        params,
        scene_split(32, 0),
        scene_split(16, 1),
        mean=0.2,
        std=0.3,
        classifier=(classifier, {"network": "resnet"}),
        ckpt_dir=tmp_path / "a",
        data_digest="digest",
        section="captioner",
    )
    trunk = {k.removeprefix("trunk."): v for k, v in result.state_dict.items() if k.startswith("trunk.")}
    # trunk layers: 0 normalize, 1 stem, 2-4 the residual blocks; only block 4 may change
    changed = {
        k.split(".")[0]
        for k, v in trunk.items()
        if v.is_floating_point() and not torch.equal(v, before[_classifier_key(k)])
    }
    assert changed == {"4"}
    with pytest.raises(UserError, match="finetune_blocks 4 > the classifier's 3 residual blocks"):
        fit_captioner(
            params.model_copy(update={"finetune_blocks": 4}),
            scene_split(32, 0),
            scene_split(16, 1),
            mean=0.2,
            std=0.3,
            classifier=(classifier, {"network": "resnet"}),
            ckpt_dir=tmp_path / "b",
            data_digest="digest",
            section="captioner",
        )


def _classifier_key(trunk_key: str) -> str:
    index, rest = trunk_key.split(".", 1)
    return {"0": "normalize", "1": "stem"}.get(index, f"stages.{int(index) - 2}") + "." + rest
