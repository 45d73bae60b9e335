import pytest
import torch

from visionops.classifier.networks import build_network


def _spec(network, **extra):
    return {
        "network": network,
        "resnet_widths": [8, 16, 32],
        "resnet_blocks": 1,
        "resnet_stem_pool": True,
        "num_classes": 10,
        "in_channels": 1,
        "mean": 0.3,
        "std": 0.35,
        **extra,
    }


@pytest.mark.parametrize("stem_pool", [True, False])
def test_resnet_maps_pixels_to_logits(stem_pool):
    net = build_network(_spec("resnet", resnet_stem_pool=stem_pool)).eval()
    assert net(torch.rand(5, 1, 28, 28)).shape == (5, 10)


def test_lenet5_has_the_lecture_shapes():
    net = build_network(_spec("lenet5")).eval()
    shapes = []
    for layer in net.features:
        if isinstance(layer, torch.nn.Conv2d):
            layer.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:])))
    logits = net(torch.rand(2, 1, 28, 28))
    assert shapes == [(6, 28, 28), (16, 10, 10), (120, 1, 1)]
    assert [m.out_features for m in net.head if isinstance(m, torch.nn.Linear)] == [84, 10]
    assert logits.shape == (2, 10)


def test_normalisation_is_inside_the_network():
    net = build_network(_spec("lenet5", mean=0.5, std=0.25)).eval()
    x = torch.rand(3, 1, 28, 28)
    assert torch.allclose(net.normalize(x), (x - 0.5) / 0.25)
    state = net.state_dict()
    assert float(state["normalize.mean"]) == 0.5 and float(state["normalize.std"]) == 0.25
