"""What the network looks at (Zeiler & Fergus 2014; Simonyan et al. 2014; Selvaraju et al. 2017), via Captum."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def explain(
    network: nn.Module, images: torch.Tensor, targets: torch.Tensor, *, window: int, stride: int
) -> dict[str, np.ndarray]:
    """Occlusion sensitivity, saliency and Grad-CAM maps [N, H, W] for float images [N, C, H, W] in [0, 1]."""
    from captum.attr import LayerAttribution, LayerGradCam, Occlusion, Saliency

    network = network.eval()
    channels = images.shape[1]
    occlusion = Occlusion(network).attribute(
        images,
        target=targets,
        sliding_window_shapes=(channels, window, window),
        strides=(channels, stride, stride),
        baselines=0.0,
    )
    saliency = Saliency(network).attribute(images.clone().requires_grad_(True), target=targets, abs=True)
    cam = LayerGradCam(network, network.cam_layer).attribute(images, target=targets, relu_attributions=True)
    cam = LayerAttribution.interpolate(cam, tuple(images.shape[-2:]), interpolate_mode="bilinear")
    return {
        "occlusion": occlusion.sum(1).detach().numpy(),
        "saliency": saliency.amax(1).detach().numpy(),
        "grad_cam": cam.sum(1).detach().numpy(),
    }
