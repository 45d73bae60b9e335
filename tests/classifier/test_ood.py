"""The out-of-distribution flag: its threshold stored in the model, its report, and `predict`'s warning."""

import subprocess
import sys

import numpy as np
import onnx
import pytest

from visionops.classifier.ood import ood_report, unlike_fashion_mnist


def test_the_score_is_the_log_sum_exp_of_the_logits():
    from visionops.core.ort import ood_score

    logits = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]], np.float32)  # no overflow at large logits
    assert np.allclose(ood_score(logits), [np.log(np.exp(logits[0]).sum()), 1000.0])


def test_the_unlike_inputs_are_images_of_each_kind():
    test = np.random.default_rng(1).uniform(0, 1, (50, 1, 28, 28)).astype(np.float32)
    kinds = unlike_fashion_mnist(test, 20)
    assert set(kinds) == {"noise", "flat", "stripes", "inverted"}
    for pixels in kinds.values():
        assert pixels.shape == (20, 1, 28, 28) and pixels.dtype == np.float32
        assert pixels.min() >= 0 and pixels.max() <= 1
    assert np.allclose(kinds["inverted"], 1 - test[:20])
    assert np.ptp(kinds["flat"][0]) == 0 and np.ptp(kinds["stripes"][0]) > 0.5


def test_the_report_counts_what_falls_below_the_threshold():
    report = ood_report(0.5, np.array([0.9, 0.8, 0.4, 0.95]), {"noise": np.array([0.3, 0.6])})
    assert report == {"threshold": 0.5, "false_alarm": 0.25, "catch": {"noise": 0.5}}


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from visionops.classifier.export import export_onnx
    from visionops.classifier.networks import build_network

    net = build_network(
        {"network": "lenet5", "num_classes": 10, "in_channels": 1, "mean": 0.3, "std": 0.35, "resnet_widths": [8]}
    ).eval()
    path = tmp_path_factory.mktemp("m") / "model.onnx"
    export_onnx(net, path, image_shape=(1, 28, 28), classes=[f"k{i}" for i in range(10)], opset=18)
    return path


def test_the_export_stores_the_threshold_that_flags_the_asked_share_of_validation_images(model_file):
    from visionops.classifier.export import store_ood_threshold
    from visionops.classifier.predict import predict_logits
    from visionops.core.ort import ood_score, ood_threshold, session

    val = np.random.default_rng(0).uniform(0, 1, (400, 1, 28, 28)).astype(np.float32)
    threshold = store_ood_threshold(model_file, val, 0.05)
    sess = session(model_file)
    assert ood_threshold(sess) == threshold
    scores = ood_score(predict_logits(sess, val))
    assert abs((scores < threshold).mean() - 0.05) <= 0.005


@pytest.mark.parametrize(("threshold", "warned"), [(1e9, True), (-1e9, False)])
def test_predict_warns_when_the_top_probability_is_below_the_threshold(model_file, tmp_path, threshold, warned):
    from PIL import Image

    from visionops.core.onnx_export import set_metadata
    from visionops.core.ort import OOD_KEY

    model = onnx.load_model(str(model_file))
    set_metadata(model, OOD_KEY, repr(threshold))
    onnx.save_model(model, str(tmp_path / "m.onnx"))
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "a.png")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "visionops.cli",
            "predict",
            "--model",
            str(tmp_path / "m.onnx"),
            str(tmp_path / "a.png"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\t") == 2  # the answer is still printed, in the same columns
    assert ("looks unlike the training images" in result.stderr) is warned
