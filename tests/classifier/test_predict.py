import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from visionops.classifier.export import export_onnx
from visionops.classifier.networks import build_network
from visionops.core.errors import UserError
from visionops.data.imagefolder import fetch_image_folder
from visionops.data.prepare import prepare


def test_image_folder_becomes_idx_files_with_class_names(tmp_path, image_folder):
    root = image_folder(tmp_path / "images", per_class=4, classes=3, size=40)
    counts = fetch_image_folder(root, tmp_path / "raw")
    assert counts == {"train": 12, "test": 12}
    tensors, manifest = prepare(tmp_path / "raw", ["class0", "class1", "class2"], 0.25, 0)
    assert manifest["image_shape"] == [1, 28, 28]
    assert manifest["splits"]["test"]["per_class"] == [4, 4, 4]


def test_unreadable_image_is_named(tmp_path, image_folder):
    root = image_folder(tmp_path / "images", per_class=2, classes=2)
    (root / "train" / "class0" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="broken.png: not a readable image"):
        fetch_image_folder(root, tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    net = build_network(
        {
            "network": "lenet5",
            "num_classes": 10,
            "in_channels": 1,
            "mean": 0.3,
            "std": 0.35,
            "resnet_widths": [8, 8, 8],
            "resnet_blocks": 1,
            "resnet_stem_pool": True,
        }
    ).eval()
    path = tmp_path_factory.mktemp("m") / "model.onnx"
    export_onnx(net, path, image_shape=(1, 28, 28), classes=[f"k{i}" for i in range(10)], opset=18)
    return path


def _visionops(*args):
    return subprocess.run([sys.executable, "-m", "visionops.cli", *args], capture_output=True, text=True, timeout=120)


def test_predict_prints_a_class_per_image_and_brings_other_sizes_to_the_training_form(model_file, tmp_path):
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.full((56, 40, 3), 200, np.uint8)).save(tmp_path / "b.jpg")
    result = _visionops("predict", "--model", str(model_file), str(tmp_path / "a.png"), str(tmp_path / "b.jpg"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(tmp_path / "a.png"), str(tmp_path / "b.jpg")]
    assert all(line.split("\t")[1].startswith("k") and 0 < float(line.split("\t")[2]) <= 1 for line in lines)
    done = "light background (0.78) inverted, levels stretched to a black background, padded to 56x56, resized to 28x28"
    assert f"b.jpg is 40x56: {done}" in result.stderr


def test_predict_refuses_a_file_that_is_not_an_image(model_file, tmp_path):
    (tmp_path / "notes.png").write_text("hello")
    result = _visionops("predict", "--model", str(model_file), str(tmp_path / "notes.png"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "notes.png: not a readable image" in result.stderr


def test_predict_without_a_model_says_how_to_make_one(tmp_path):
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "a.png")
    result = _visionops("predict", "--model", str(tmp_path / "none.onnx"), str(tmp_path / "a.png"))
    assert result.returncode == 2 and "run the export stage first" in result.stderr


def test_predict_finds_the_project_model_from_any_folder_and_says_where_it_looked(model_file, tmp_path):
    project = tmp_path / "project"
    (project / "data" / "models" / "standard").mkdir(parents=True)
    for name in ("params.yaml", "dvc.yaml"):
        (project / name).write_text("{}\n")
    shutil.copy(model_file, project / "data" / "models" / "standard" / "classifier.onnx")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(elsewhere / "a.png")

    def visionops(*args, **env):
        return subprocess.run(
            [sys.executable, "-m", "visionops.cli", *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=elsewhere,
            env={k: v for k, v in os.environ.items() if k != "VISIONOPS_PROJECT"} | env,
        )

    for found in (
        visionops("predict", "a.png", VISIONOPS_PROJECT=str(project)),
        visionops("predict", "--project", str(project), "a.png"),
    ):
        assert found.returncode == 0, found.stderr
        assert found.stdout.startswith("a.png\tk")
    lost = visionops("predict", "a.png")
    assert lost.returncode == 2 and lost.stderr.count("\n") == 1
    assert f"at or above {elsewhere}" in lost.stderr and "VISIONOPS_PROJECT" in lost.stderr
    assert visionops("--version").stdout.startswith("visionops ")
