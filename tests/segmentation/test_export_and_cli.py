"""The ONNX segmenters match torch with a dynamic batch, and `visionops segment` writes the map of a scene PNG or
refuses a bad input in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionops.segmentation.networks import build_segmenter, segmenter_spec

CLASSES = [f"c{i}" for i in range(10)]
RESNET = {
    "network": "resnet",
    "resnet_widths": [8, 16, 32],
    "resnet_blocks": 1,
    "resnet_stem_pool": True,
    "num_classes": 10,
    "in_channels": 1,
    "mean": 0.3,
    "std": 0.3,
}


def _untrained(kind: str, encoder: str) -> torch.nn.Module:
    spec = segmenter_spec(
        kind, channels=1, classes=CLASSES, width=4, mean=0.2, std=0.3, classifier_spec=RESNET if encoder else None
    )
    network = build_segmenter(spec).eval()
    generator = torch.Generator().manual_seed(0)
    for module in network.modules():  # batch-norm statistics other than the identity, as after training
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2, generator=generator)
            module.running_var.uniform_(0.5, 1.5, generator=generator)
    return network


@pytest.mark.parametrize(
    ("kind", "encoder", "mirrored"),
    [("deconvnet", "", False), ("fcn", "", False), ("deconvnet", "classifier", False), ("deconvnet", "", True)],
    ids=str,
)
def test_onnx_segmenter_matches_torch_at_every_batch_size(tmp_path, kind, encoder, mirrored):
    from visionops.core.ort import class_names, session
    from visionops.segmentation.export import MirrorAveraged, export_segmenter, segmenter_parity

    network = MirrorAveraged(_untrained(kind, encoder)) if mirrored else _untrained(kind, encoder)
    path = tmp_path / "segmenter.onnx"
    export_segmenter(network, path, classes=CLASSES, height=32, width=32, opset=18)
    scenes = np.random.default_rng(0).integers(0, 256, (37, 1, 32, 32)).astype(np.uint8)
    scenes[0] = 0  # an empty scene
    parity = segmenter_parity(network, path, scenes, (1, 37))
    assert max(parity["max_abs"].values()) < 1e-4
    assert class_names(session(path)) == ["background", *CLASSES]


def test_the_mirror_averaged_segmenter_maps_a_mirrored_scene_to_the_mirrored_map():
    from visionops.segmentation.export import MirrorAveraged

    plain = _untrained("deconvnet", "")
    averaged = MirrorAveraged(plain).eval()
    x = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(averaged(x.flip(-1)), averaged(x).flip(-1), atol=1e-5)
        assert not torch.allclose(plain(x.flip(-1)).softmax(1), plain(x).softmax(1).flip(-1), atol=1e-3)
        assert torch.allclose(averaged(x).exp().sum(1), torch.ones(3, 32, 32), atol=1e-5)  # probabilities, as logs


def test_segment_cli_writes_the_coloured_map_and_refuses_bad_input(tmp_path, capsys):
    from PIL import Image

    from visionops.cli import main
    from visionops.segmentation.export import export_segmenter

    model = tmp_path / "segmenter.onnx"
    export_segmenter(_untrained("fcn", ""), model, classes=CLASSES, height=32, width=32, opset=18)
    scene = tmp_path / "scene.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (32, 32)).astype(np.uint8)).save(scene)
    out = tmp_path / "map.png"
    main(["segment", str(scene), "--model", str(model), "--out", str(out)])
    printed = capsys.readouterr().out
    assert printed.startswith(f"{scene}\t") and f"wrote {out}" in printed
    assert Image.open(out).size[0] >= 32 * 4  # the map, scaled up, with its legend below

    double = tmp_path / "double.png"  # a whole multiple of the canvas is averaged down
    Image.fromarray(np.kron(np.asarray(Image.open(scene)), np.ones((2, 2), np.uint8))).save(double)
    main(["segment", str(double), "--model", str(model), "--out", str(tmp_path / "double_map.png")])
    assert capsys.readouterr().out.splitlines()[0].split("\t")[1] == printed.splitlines()[0].split("\t")[1]

    wide = tmp_path / "wide.png"
    Image.fromarray(np.zeros((32, 64), np.uint8)).save(wide)
    for argv, message in (
        (["segment", str(wide), "--model", str(model), "--out", str(out)], "the segmenter reads 32x32 scenes"),
        (
            ["segment", str(scene), "--model", str(model), "--out", str(tmp_path / "map.jpg")],
            "give a name ending in .png",
        ),
        (["segment", str(tmp_path / "missing.png"), "--model", str(model), "--out", str(out)], "no such file"),
        (["segment", str(scene), "--model", str(tmp_path / "none.onnx"), "--out", str(out)], "segment_export"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
