"""Scenes, the caption grammar, metrics, decoding and the ONNX captioner pair."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from visionops.captioning.decode import TorchStepper, beam_search, greedy, log_softmax
from visionops.captioning.metrics import overlap_scores, truthfulness
from visionops.captioning.networks import AttentionDecoder, Captioner, ShowTellDecoder, scratch_trunk
from visionops.captioning.params import CaptionerParams
from visionops.captioning.vocab import Vocab
from visionops import params as project_params
from visionops.core.errors import UserError
from visionops.data.scenes.compose import (
    choose_heldout,
    combination_facts,
    describe,
    has_combination,
    render,
    sample_split,
)
from visionops.data.scenes.grammar import SceneObject, judge, parse

CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def compose(items: np.ndarray, labels: np.ndarray, n: int, seed: int, heldout: bool = False, combos=None):
    rng = np.random.default_rng(seed)
    combos = choose_heldout(10, 8, 0) if combos is None else combos
    layouts = sample_split(n, item_labels=labels, n_classes=10, combos=combos, heldout=heldout, max_objects=3, small_prob=0.5, side=28, small_side=20, rng=rng)
    images, masks, boxes = render(layouts, items, 20)
    return layouts, images, masks, boxes, describe(layouts, boxes, classes=CLASSES, captions_per_scene=5, size_prob=0.5, reading_order_prob=0.8, rng=rng)


def item_bank(value: int, n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """n items of constant brightness `value` (so a scene shows which bank its items came from)."""
    return np.full((n, 1, 28, 28), value, np.uint8), np.arange(n) % 10


def test_scenes_are_deterministic_under_the_seed():
    items, labels = item_bank(200)
    items = items + np.random.default_rng(1).integers(0, 50, items.shape).astype(np.uint8)
    first, again, other = compose(items, labels, 60, 3), compose(items, labels, 60, 3), compose(items, labels, 60, 4)
    for a, b in zip(first[1:4], again[1:4]):
        assert np.array_equal(a, b)
    assert first[4] == again[4]
    assert not np.array_equal(first[1], other[1])


def test_each_split_uses_its_own_items_and_held_out_combinations_stay_out_of_training():
    combos = choose_heldout(10, 8, 0)
    train_items, labels = item_bank(100)
    test_items, _ = item_bank(200)
    _, train_images, train_masks, _, _ = compose(train_items, labels, 300, 0, combos=combos)
    layouts_test, test_images, *_ = compose(test_items, labels, 300, 1, combos=combos)
    layouts_held, *_ = compose(test_items, labels, 100, 2, heldout=True, combos=combos)
    assert set(np.unique(train_images)) == {0, 100}  # no test pixel in a training scene
    assert set(np.unique(test_images)) == {0, 200}
    layouts_train, *_ = compose(train_items, labels, 300, 0, combos=combos)
    assert not has_combination(layouts_train, combos, 10).any()
    assert not has_combination(layouts_test, combos, 10).any()
    assert has_combination(layouts_held, combos, 10).all()
    # the mask marks exactly the items' pixels, with their class
    assert ((train_masks > 0) == (train_images[:, 0] > 0)).all()


def test_every_reference_caption_parses_back_to_its_scene():
    items, labels = item_bank(120)
    layouts, _, _, boxes, descriptions = compose(items, labels, 200, 5)
    counts = set()
    for n, d in enumerate(descriptions):
        objects = layouts.objects(n)
        counts.add(len(objects))
        assert len(d["captions"]) == 5 and len(d["objects"]) == len(objects)
        for caption in d["captions"]:
            assert judge(caption, objects, CLASSES) == [], caption
            assert len(parse(caption, CLASSES).mentions) == len(objects)
        for i, o in enumerate(d["objects"]):  # boxes lie in the item's cell
            x0, y0, x1, y1 = o["box"]
            assert o["col"] * 28 <= x0 < x1 <= o["col"] * 28 + 28 and o["row"] * 28 <= y0 < y1 <= o["row"] * 28 + 28
    assert counts == {1, 2, 3}
    assert combination_facts(layouts, 10).shape == (2, 200, 3, 3)


SNEAKER_LEFT_OF_BAG = [SceneObject(7, 0, 0, 0), SceneObject(8, 1, 0, 1)]  # small sneaker, large bag to its right


@pytest.mark.parametrize("caption, errors", [
    ("a small sneaker to the left of a large bag", []),
    ("a bag is right of a sneaker", []),
    ("a sneaker is above a bag", ["wrong_relation"]),
    ("a large sneaker left of a bag", ["wrong_size"]),
    ("a sneaker left of a coat", ["wrong_class"]),
    ("a sneaker", ["missed_object"]),
    ("a sneaker left of a bag and a coat above the bag", ["hallucinated_object"]),  # the coat's place is moot
    ("a bag left of a sneaker and a coat above the bag", ["wrong_relation", "hallucinated_object"]),
    ("a sneaker left of", ["unparsable"]),
    ("a sneaker left of the bag", ["unparsable"]),
])
def test_truthfulness_names_what_is_wrong(caption, errors):
    assert judge(caption, SNEAKER_LEFT_OF_BAG, CLASSES) == errors


def test_metrics_on_hand_made_cases():
    refs = [["a small sneaker to the left of a large bag", "a bag is right of a small sneaker"],
            ["there is a coat", "a large coat"], ["a dress above a shirt", "a shirt is below a dress"]]
    perfect = overlap_scores([r[0] for r in refs], refs)
    assert perfect["bleu_4"] == pytest.approx(1.0, abs=1e-6) and perfect["rouge_l"] == pytest.approx(1.0)
    wrong = overlap_scores(["a small sneaker above a large bag", "there is a coat", "a dress left of a shirt"], refs)
    assert wrong["bleu_4"] < 0.7 and wrong["cider_d"] < perfect["cider_d"] and wrong["rouge_l"] < 1.0
    # CIDEr-D's weights come from the corpus (an n-gram in every scene's references says nothing)
    assert perfect["cider_d"] > 1.0
    summary, errors = truthfulness(
        ["a small sneaker to the left of a large bag", "a small sneaker above a large bag",
         "a sneaker left of a bag and a coat above the bag"],
        [SNEAKER_LEFT_OF_BAG] * 3, CLASSES,
    )
    assert summary["truthfulness"] == pytest.approx(1 / 3)
    assert summary["errors/wrong_relation"] == pytest.approx(1 / 3)
    assert summary["errors/hallucinated_object"] == pytest.approx(1 / 3)
    assert errors[0] == []


def tiny_captioner(decoder: str, vocab_size: int = 12, seed: int = 0) -> Captioner:
    torch.manual_seed(seed)
    trunk = scratch_trunk(1, 0.2, 0.3, width=4)
    kind = AttentionDecoder if decoder == "attention" else ShowTellDecoder
    net = kind(vocab_size=vocab_size, feature_dim=16, grid=49, embed_dim=8, hidden_dim=16, attention_dim=8, dropout=0.0)
    return Captioner(trunk, net).eval()


def sequence_logprob(captioner: Captioner, images: np.ndarray, ids: np.ndarray, bos: int, eos: int) -> np.ndarray:
    stepper = TorchStepper(captioner)
    state = stepper.start(images)
    tokens, total = np.full(len(images), bos), np.zeros(len(images))
    done = np.zeros(len(images), bool)
    for t in range(ids.shape[1]):
        logits, state = stepper.step(tokens, state)
        total += np.where(done, 0.0, log_softmax(logits)[np.arange(len(images)), ids[:, t]])
        done |= ids[:, t] == eos
        tokens = ids[:, t]
    return total


@pytest.mark.parametrize("decoder", ["show_tell", "attention"])
def test_beam_width_one_is_greedy(decoder):
    captioner = tiny_captioner(decoder)
    images = np.random.default_rng(0).random((9, 1, 56, 56), dtype=np.float32)
    stepper = TorchStepper(captioner)
    g = greedy(stepper, images, bos=1, eos=2, max_length=8)
    assert np.array_equal(beam_search(stepper, images, bos=1, eos=2, max_length=8, width=1), g)
    wide = beam_search(stepper, images, bos=1, eos=2, max_length=8, width=4)
    assert (sequence_logprob(captioner, images, wide, 1, 2) >= sequence_logprob(captioner, images, g, 1, 2) - 1e-9).all()


class GardenPath:
    """Words: 2 <eos>, 3 'a', 4 'b'. After <bos>, 'a' (0.6) beats 'b' (0.4); but after 'a' every word is unsure
    (<eos> 0.34), after 'b' <eos> is sure (0.99). Greedy says 'a' (0.204 in all), a beam 'b' (0.396)."""

    table = {1: [0.0, 0.0, 0.0, 0.6, 0.4], 3: [0.0, 0.0, 0.34, 0.33, 0.33], 4: [0.0, 0.0, 0.99, 0.005, 0.005],
             2: [0.0, 0.0, 1.0, 0.0, 0.0]}

    def start(self, images):
        return {"dummy": np.zeros((len(images), 1), np.float32)}

    def step(self, tokens, state):
        with np.errstate(divide="ignore"):
            return np.log(np.array([self.table[int(t)] for t in tokens])), state


def test_a_beam_finds_the_likelier_caption_that_greedy_misses():
    images = np.zeros((2, 1, 4, 4), np.float32)
    assert greedy(GardenPath(), images, bos=1, eos=2, max_length=4)[:, :2].tolist() == [[3, 2]] * 2
    assert beam_search(GardenPath(), images, bos=1, eos=2, max_length=4, width=2)[:, :2].tolist() == [[4, 2]] * 2


@pytest.fixture(scope="module")
def onnx_pair(tmp_path_factory):
    """A tiny attention captioner, saved and exported as the caption_export stage does (each part in a process)."""
    from visionops.captioning.export import export_in_subprocess
    from visionops.core.model_file import save_model

    folder = tmp_path_factory.mktemp("captioner")
    vocab = Vocab.build(["a small sneaker left of a large bag", "a bag", "there is a coat"])
    spec = {"network": "captioner", "decoder": "attention", "encoder": "scratch", "classifier_spec": None,
            "in_channels": 1, "image_shape": [1, 56, 56], "mean": 0.2, "std": 0.3, "feature_dim": 16, "grid": 49,
            "embed_dim": 8, "hidden_dim": 16, "attention_dim": 8, "dropout": 0.0, "vocab": vocab.words,
            "max_length": 10, "beam_width": 3, "scratch_width": 4}
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


def test_vocab_round_trip_and_unknown_words():
    vocab = Vocab.build(["a bag", "a small bag"])
    ids = vocab.encode(["a small sock"], 6)[0]
    assert ids[0] == vocab.bos and vocab.unk in ids and ids[4] == vocab.eos
    assert vocab.decode(ids[1:]) == "a small <unk>"


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


def scene_split(n: int, seed: int):
    from visionops.data.scenes.compose import SceneSplit

    items, labels = item_bank(0)
    items = np.random.default_rng(seed).integers(0, 255, items.shape).astype(np.uint8)
    layouts, images, masks, boxes, descriptions = compose(items, labels, n, seed)
    return SceneSplit(images, masks, boxes, layouts.labels, descriptions)


def test_a_nan_loss_stops_training_with_one_line_and_the_next_run_resumes(tmp_path, monkeypatch):
    from visionops.captioning.fit import fit_captioner
    from visionops.core.lightning import FINGERPRINT_FILE
    from visionops.captioning import module as caption_module

    params = CaptionerParams(decoder="attention", encoder="scratch", scratch_width=4, embed_dim=8,
                                    hidden_dim=16, attention_dim=8, epochs=2, batch_size=16, accelerator="cpu")
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
        fit_captioner(params, train, val, mean=0.2, std=0.3, classifier=None, ckpt_dir=ckpt, data_digest="digest",
                      section="attention_captioner")
    assert (ckpt / "last.ckpt").is_file() and '"finished"' not in (ckpt / FINGERPRINT_FILE).read_text()

    monkeypatch.setattr(caption_module.CaptionModule, "_loss", real_loss)
    result = fit_captioner(params, train, val, mean=0.2, std=0.3, classifier=None, ckpt_dir=ckpt, data_digest="digest",
                      section="attention_captioner")
    assert result.resumed_from == str(ckpt / "last.ckpt") and result.metrics["epochs"] == 2
    assert result.spec["vocab"][:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]


def test_the_classifier_encoder_fine_tunes_only_its_last_blocks(tmp_path):
    from visionops.captioning.fit import fit_captioner
    from visionops.classifier.networks import ResNet

    params = CaptionerParams(decoder="show_tell", encoder="classifier", finetune_blocks=1, embed_dim=8,
                                    hidden_dim=16, epochs=1, batch_size=16, accelerator="cpu")
    classifier = ResNet(widths=(4, 8, 8), stem_pool=True).eval()
    before = {k: v.clone() for k, v in classifier.state_dict().items()}
    result = fit_captioner(params, scene_split(32, 0), scene_split(16, 1), mean=0.2, std=0.3,
                           classifier=(classifier, {"network": "resnet"}), ckpt_dir=tmp_path / "a", data_digest="digest",
                           section="captioner")
    trunk = {k.removeprefix("trunk."): v for k, v in result.state_dict.items() if k.startswith("trunk.")}
    # trunk layers: 0 normalize, 1 stem, 2-4 the residual blocks; only block 4 may change
    changed = {k.split(".")[0] for k, v in trunk.items()
               if v.is_floating_point() and not torch.equal(v, before[_classifier_key(k)])}
    assert changed == {"4"}
    with pytest.raises(UserError, match="finetune_blocks 4 > the classifier's 3 residual blocks"):
        fit_captioner(params.model_copy(update={"finetune_blocks": 4}), scene_split(32, 0), scene_split(16, 1), mean=0.2,
                      std=0.3, classifier=(classifier, {"network": "resnet"}), ckpt_dir=tmp_path / "b", data_digest="digest",
                      section="captioner")


def _classifier_key(trunk_key: str) -> str:
    index, rest = trunk_key.split(".", 1)
    return {"0": "normalize", "1": "stem"}.get(index, f"stages.{int(index) - 2}") + "." + rest
