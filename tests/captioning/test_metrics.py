"""Caption metrics on hand-made cases, and the vocabulary."""

from __future__ import annotations

import pytest

from visionops.captioning.metrics import overlap_scores, truthfulness
from visionops.captioning.vocab import Vocab
from visionops.data.scenes.grammar import SceneObject
from visionops.data.sources import FASHION_MNIST

CLASSES = list(FASHION_MNIST.classes)
SNEAKER_LEFT_OF_BAG = [SceneObject(7, 0, 0, 0), SceneObject(8, 1, 0, 1)]  # small sneaker, large bag to its right


def test_metrics_on_hand_made_cases():
    refs = [
        ["a small sneaker to the left of a large bag", "a bag is right of a small sneaker"],
        ["there is a coat", "a large coat"],
        ["a dress above a shirt", "a shirt is below a dress"],
    ]
    perfect = overlap_scores([r[0] for r in refs], refs)
    assert perfect["bleu_4"] == pytest.approx(1.0, abs=1e-6) and perfect["rouge_l"] == pytest.approx(1.0)
    wrong = overlap_scores(["a small sneaker above a large bag", "there is a coat", "a dress left of a shirt"], refs)
    assert wrong["bleu_4"] < 0.7 and wrong["cider_d"] < perfect["cider_d"] and wrong["rouge_l"] < 1.0
    # CIDEr-D's weights come from the corpus (an n-gram in every scene's references says nothing)
    assert perfect["cider_d"] > 1.0
    summary, errors = truthfulness(
        [
            "a small sneaker to the left of a large bag",
            "a small sneaker above a large bag",
            "a sneaker left of a bag and a coat above the bag",
        ],
        [SNEAKER_LEFT_OF_BAG] * 3,
        CLASSES,
    )
    assert summary["truthfulness"] == pytest.approx(1 / 3)
    assert summary["errors/wrong_relation"] == pytest.approx(1 / 3)
    assert summary["errors/hallucinated_object"] == pytest.approx(1 / 3)
    assert errors[0] == []


def test_vocab_round_trip_and_unknown_words():
    vocab = Vocab.build(["a bag", "a small bag"])
    ids = vocab.encode(["a small sock"], 6)[0]
    assert ids[0] == vocab.bos and vocab.unk in ids and ids[4] == vocab.eos
    assert vocab.decode(ids[1:]) == "a small <unk>"
