"""Each VQA network's ONNX file answers as torch does at any batch and question length, `visionops ask` answers
through onnxruntime alone or refuses in one line, and the neuro-symbolic reader turns detections into grid items."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionops.data.scenes.questions import answer_list, generate
from visionops.vqa.encoding import build_vocab

from .conftest import CLASSES


@pytest.fixture(scope="module")
def asked(grid_splits) -> list[dict]:
    splits, _ = grid_splits
    return [q.record() for q in generate(splits["test"][:60], CLASSES, count=120, rng=np.random.default_rng(0))]


@pytest.fixture(scope="module")
def scenes() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (60, 1, 56, 56), dtype=np.uint8)


def _network(model: str, asked: list[dict]) -> tuple[torch.nn.Module, dict]:
    from visionops.vqa.networks import build_vqa

    spec = {
        "model": model,
        "encoder": "scratch",
        "classifier_spec": None,
        "image_shape": [1, 56, 56],
        "mean": 0.2,
        "std": 0.3,
        "scratch_width": 4,
        "feature_dim": 16,
        "grid": 7,
        "vocab": build_vocab([q["question"] for q in asked]),
        "answers": answer_list(CLASSES),
        "embed_dim": 8,
        "hidden_dim": 16,
        "film_channels": 8,
        "film_blocks": 2,
        "film_pool": True,
    }
    torch.manual_seed(0)
    network = build_vqa(spec).eval()
    for module in network.modules():  # batch-norm statistics that are not the identity, so parity tests them too
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return network, spec


@pytest.mark.parametrize("model", ["film", "cnn_lstm", "blind"])
def test_onnx_answers_as_torch_at_other_batch_sizes_and_question_lengths(tmp_path, asked, scenes, model):
    from visionops.vqa.export import export_vqa, vqa_parity
    from visionops.vqa.runtime import load_ort_vqa

    network, spec = _network(model, asked)
    path = tmp_path / "vqa.onnx"
    export_vqa(network, spec, path, opset=18)
    lengths = {len(q["question"].split()) for q in asked[:37]}
    assert len(lengths) > 1 and min(lengths) > 3  # padded within the batch, and longer than the export's example
    parity = vqa_parity(network, path, images=scenes, questions=asked, batch_sizes=(1, 37))
    assert max(parity["max_abs"].values()) < 1e-4 and max(parity["answers_differing"].values()) == 0
    ort = load_ort_vqa(path)
    assert ort.reads_image == (model != "blind") and ort.meta["answers"] == spec["answers"]


def test_ask_answers_through_onnxruntime_and_refuses_bad_input_in_one_line(tmp_path, capsys, asked):
    from PIL import Image

    from visionops.cli import main
    from visionops.vqa.export import export_vqa

    network, spec = _network("film", asked)
    model = tmp_path / "vqa.onnx"
    export_vqa(network, spec, model, opset=18)
    scene = tmp_path / "scene.png"
    Image.fromarray(np.zeros((56, 56), np.uint8)).save(scene)
    main(["ask", str(scene), "What size is the bag?", "--model", str(model)])
    answer, probability = capsys.readouterr().out.strip().split("\t")
    assert answer in spec["answers"] and 0 < float(probability) <= 1

    wide = tmp_path / "wide.png"
    Image.fromarray(np.zeros((56, 90), np.uint8)).save(wide)
    for argv, message in (
        (["ask", str(scene), "what colour is the bag?", "--model", str(model)], "'colour' is not a word the model"),
        (["ask", str(scene), "  ", "--model", str(model)], "the question is empty"),
        (["ask", str(wide), "is there a bag?", "--model", str(model)], "the VQA model reads 56x56 scenes"),
        (["ask", str(tmp_path / "none.png"), "is there a bag?", "--model", str(model)], "none.png"),
        (["ask", str(scene), "is there a bag?", "--model", str(tmp_path / "none.onnx")], "dvc repro vqa_export"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err


def test_the_symbolic_reader_turns_detections_into_grid_items_and_keeps_each_classs_best():
    from visionops.vqa.symbolic import fit_large_side, items_of

    names = ["background", *CLASSES]
    boxes = np.array([[2, 3, 26, 27], [30, 31, 44, 50], [31, 30, 45, 49], [0, 0, 5, 5]], np.float32)
    labels = np.array([9, 1, 1, 3])  # a bag; a t-shirt found twice; a pullover scored too low
    scores = np.array([0.9, 0.6, 0.8, 0.2], np.float32)
    items = items_of(boxes, labels, scores, names=names, cell=28, large_side=23, score_thresh=0.5)
    assert sorted((o["class"], o["size"], o["row"], o["col"], o["score"]) for o in items) == [
        ("bag", "large", 0, 0, pytest.approx(0.9)),
        ("t-shirt", "small", 1, 1, pytest.approx(0.8)),
    ]
    scenes = [{"objects": [{"size": "large", "box": [0, 0, 28, 20]}, {"size": "small", "box": [0, 0, 12, 20]}]}]
    assert fit_large_side(scenes) == 28
