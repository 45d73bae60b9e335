import numpy as np
import pytest
import torch

from visionops.classifier.export import export_onnx, parity, quantize_int8
from visionops.classifier.networks import build_network
from visionops.classifier.predict import predict_logits
from visionops.core.ort import class_names, session

CLASSES = [f"c{i}" for i in range(10)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    spec = {
        "network": "resnet",
        "resnet_widths": [8, 16, 32],
        "resnet_blocks": 1,
        "resnet_stem_pool": True,
        "num_classes": 10,
        "in_channels": 1,
        "mean": 0.3,
        "std": 0.35,
    }
    net = build_network(spec).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics, so parity checks more than zeros
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    export_onnx(net, path, image_shape=(1, 28, 28), classes=CLASSES, opset=18)
    return net, path


def test_onnx_matches_torch_at_batch_1_and_37(exported):
    net, path = exported
    diffs = parity(net, path, image_shape=(1, 28, 28), batch_sizes=(1, 37))
    assert set(diffs) == {"batch_1", "batch_37"}
    assert max(diffs.values()) <= 1e-4


def test_onnx_batch_axis_is_dynamic_and_carries_class_names(exported):
    _, path = exported
    sess = session(path)
    assert class_names(sess) == CLASSES
    for n in (1, 3, 250):
        assert predict_logits(sess, np.random.rand(n, 1, 28, 28).astype(np.float32), batch_size=n).shape == (n, 10)


def test_parity_catches_a_wrong_export(exported, tmp_path):
    net, path = exported
    other = build_network(
        {
            "network": "resnet",
            "resnet_widths": [8, 16, 32],
            "resnet_blocks": 1,
            "resnet_stem_pool": True,
            "num_classes": 10,
            "in_channels": 1,
            "mean": 0.0,
            "std": 1.0,
        }
    )
    assert max(parity(other.eval(), path, image_shape=(1, 28, 28), batch_sizes=(4,)).values()) > 1e-3


def test_int8_model_runs_and_mostly_agrees(exported, tmp_path):
    net, path = exported
    calibration = np.random.default_rng(0).random((64, 1, 28, 28), dtype=np.float32)
    out = tmp_path / "int8.onnx"
    quantize_int8(path, out, calibration, CLASSES)
    assert out.stat().st_size < path.stat().st_size
    x = np.random.default_rng(1).random((200, 1, 28, 28), dtype=np.float32)
    fp32 = predict_logits(session(path), x).argmax(1)
    int8 = predict_logits(session(out), x).argmax(1)
    assert class_names(session(out)) == CLASSES
    assert (fp32 == int8).mean() > 0.8
