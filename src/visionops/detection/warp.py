"""A box of a scene as the standard classifier sees an item: the R-CNN baseline's regions and the vote's."""

from __future__ import annotations

import torch

WARP = 28  # the classifier's input side


def warp_boxes(image: torch.Tensor, boxes: torch.Tensor, pad: int) -> torch.Tensor:
    """Each box [m, 4] (x0, y0, x1, y1) of one image [1, C, H, W] as the classifier sees an item: the square around
    it (its longer side plus `pad` on each side, as Fashion-MNIST frames an item), resampled to 28x28."""
    from torchvision.ops import roi_align

    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = ((boxes[:, 2:] - boxes[:, :2]).max(1).values / 2 + pad)[:, None]
    squares = torch.cat([torch.zeros_like(half), centre - half, centre + half], 1)
    return roi_align(image, squares, WARP, spatial_scale=1.0, sampling_ratio=2, aligned=True)
