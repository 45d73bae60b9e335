"""Detection targets from the cluttered scenes, as torchvision's detection models take them."""

from __future__ import annotations

import torch

from visionops.data.scenes.cluttered import ClutteredSplit


class SceneTargets:
    """A split's boxes, labels and instance maps as tensors; `of(indices)` gives one target dict per scene:
    boxes [n, 4] float (x0, y0, x1, y1), labels [n] int64 (class + 1, 0 is background), masks [n, H, W] uint8."""

    def __init__(self, split: ClutteredSplit, device: torch.device | str = "cpu") -> None:
        self.boxes = torch.from_numpy(split.boxes).float().to(device)
        self.labels = torch.from_numpy(split.labels).long().to(device)
        self.instances = torch.from_numpy(split.instances).to(device)
        self.slots = torch.arange(1, self.labels.shape[1] + 1, device=device)

    def of(self, indices: torch.Tensor, masks: bool = True) -> list[dict[str, torch.Tensor]]:
        out = []
        for i in indices.tolist():
            present = self.labels[i] >= 0
            target = {"boxes": self.boxes[i][present], "labels": self.labels[i][present] + 1}
            if masks:
                target["masks"] = (self.instances[i][None] == self.slots[present][:, None, None]).to(torch.uint8)
            out.append(target)
        return out
