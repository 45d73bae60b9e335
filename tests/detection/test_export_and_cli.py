"""The ONNX detector matches torch on scenes and on an empty one, and `visionops detect` prints one line per item
(and draws them) or refuses a bad input in one line. The R-CNN baseline's proposals are the lit components."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionops.detection.networks import build_detector, detector_spec

CLASSES = [f"c{i}" for i in range(10)]


def _scenes(n: int, size: int = 32) -> np.ndarray:
    """Grey scenes [n, 1, size, size] uint8 with one or two bright rectangles each, the first one empty."""
    rng = np.random.default_rng(0)
    scenes = np.zeros((n, 1, size, size), np.uint8)
    for scene in scenes[1:]:
        for _ in range(rng.integers(1, 3)):
            x, y = rng.integers(0, size - 10, 2)
            w, h = rng.integers(6, 10, 2)
            scene[0, y : y + h, x : x + w] = rng.integers(120, 256)
    return scenes


@pytest.fixture(scope="module")
def detector() -> torch.nn.Module:
    """An untrained scratch Mask R-CNN whose box classifier favours class 1, so that it keeps detections."""
    spec = detector_spec(
        backbone="scratch",
        channels=1,
        canvas=32,
        classes=CLASSES,
        width=4,
        mean=0.1,
        std=0.3,
        box_head=32,
        mask_channels=8,
        masks=True,
    )
    torch.manual_seed(0)
    network = build_detector(spec).eval()
    with torch.no_grad():
        network.roi_heads.box_predictor.cls_score.bias[1] = 6.0
    return network


def _classifier() -> torch.nn.Module:
    from visionops.classifier.networks import build_network

    torch.manual_seed(0)
    spec = {"network": "resnet", "resnet_widths": [4, 8, 8], "resnet_blocks": 1, "resnet_stem_pool": True}
    return build_network({**spec, "num_classes": 10, "in_channels": 1, "mean": 0.1, "std": 0.3}).eval()


@pytest.mark.parametrize("voted", [False, True], ids=["detector alone", "with the classifier's vote"])
def test_onnx_detector_matches_torch_on_scenes_and_on_an_empty_one(tmp_path, detector, voted):
    from visionops.core.ort import class_names, session
    from visionops.detection.export import SingleScene, detector_parity, export_detector
    from visionops.detection.vote import ClassifierVote

    path = tmp_path / "detector.onnx"
    wrapper = SingleScene(detector, ClassifierVote(_classifier(), 0.5) if voted else None)
    export_detector(wrapper, path, classes=CLASSES, shape=(1, 32, 32), opset=18)
    pixels = _scenes(6).astype(np.float32) / 255.0
    parity = detector_parity(wrapper, path, pixels)
    assert parity["scenes"] == 6 and parity["scenes_differing"] == 0
    assert parity["max_abs"]["boxes_px"] < 1e-3 and parity["max_abs"]["scores"] < 1e-4
    assert parity["max_abs"]["masks"] < 1e-3
    assert class_names(session(path)) == ["background", *CLASSES]

    from visionops.detection.runtime import detect

    found = detect(session(path), pixels)
    assert len(found[1].labels) > 0  # the parity compared real detections, not two empty lists
    assert found[0].masks.shape[1:] == (32, 32)


def test_detect_cli_prints_each_item_draws_them_and_refuses_bad_input(tmp_path, capsys, detector):
    from PIL import Image

    from visionops.cli import main
    from visionops.detection.export import SingleScene, export_detector

    model = tmp_path / "detector.onnx"
    export_detector(SingleScene(detector), model, classes=CLASSES, shape=(1, 32, 32), opset=18)
    scenes = _scenes(3)
    paths = []
    for k in range(1, 3):
        paths.append(tmp_path / f"scene{k}.png")
        Image.fromarray(scenes[k, 0]).save(paths[-1])
    out = tmp_path / "found.png"
    main(["detect", str(paths[0]), "--model", str(model), "--out", str(out), "--score", "0.3"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"wrote {out}"
    first = lines[0].split("\t")
    assert first[0] == str(paths[0]) and first[1] == "c0" and 0.3 <= float(first[2]) <= 1.0
    assert len([float(v) for v in first[3].split(",")]) == 4
    assert Image.open(out).size == (32 * 4, 32 * 4)

    main(["detect", *map(str, paths), "--model", str(model), "--score", "1.0"])  # nothing scores above 1
    assert capsys.readouterr().out.splitlines() == [f"{p}\tno items found (score >= 1.0)" for p in paths]

    wide = tmp_path / "wide.png"
    Image.fromarray(np.zeros((32, 64), np.uint8)).save(wide)
    for argv, message in (
        (["detect", str(wide), "--model", str(model)], "the detector reads 32x32 scenes"),
        (["detect", *map(str, paths), "--model", str(model), "--out", str(out)], "give one image"),
        (["detect", str(paths[0]), "--model", str(model), "--out", str(tmp_path / "x.jpg")], "ending in .png"),
        (["detect", str(paths[0]), "--model", str(model), "--score", "2"], "between 0 and 1"),
        (["detect", str(paths[0]), "--model", str(tmp_path / "none.onnx")], "dvc repro detect_export"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err


def test_rcnn_proposals_are_the_tight_boxes_of_the_lit_components():
    from visionops.detection.rcnn import propose, warp_regions

    scene = np.zeros((32, 32), np.uint8)
    scene[2:10, 3:8] = 200  # a bright item
    scene[20:30, 18:31] = 40  # a dim one: lit only at the lowest threshold
    scene[0, 31] = 255  # one stray pixel: too small to be proposed
    boxes = propose(scene, [13, 60], min_pixels=4)
    assert {tuple(b) for b in boxes.tolist()} == {(3, 2, 8, 10), (18, 20, 31, 30)}
    regions = warp_regions(scene, boxes, pad=1)
    assert regions.shape == (2, 1, 28, 28) and float(regions.max()) <= 200 / 255 + 1e-6
