"""The classifier's vote: each detection's score becomes score^(1 - w) x the classifier's probability of its class^w,
and the detections are put best first again."""

from __future__ import annotations

import torch

from visionops.detection.vote import ClassifierVote


class FixedOpinion(torch.nn.Module):
    """A classifier that gives every region the same logits, whatever it shows."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1:] == (1, 28, 28)  # each box warped to the classifier's input
        return self.logits.expand(len(x), -1)


def _detections():
    boxes = torch.tensor([[2.0, 2.0, 20.0, 20.0], [30.0, 30.0, 50.0, 44.0]])
    labels = torch.tensor([1, 2])  # class + 1
    scores = torch.tensor([0.9, 0.6])
    return torch.rand(1, 1, 64, 64), boxes, labels, scores


def test_a_detection_the_classifier_disagrees_with_falls_behind_one_it_agrees_with():
    probs = torch.tensor([0.1, 0.9])  # the classifier: class 1 (label 2) far likelier than class 0 (label 1)
    vote = ClassifierVote(FixedOpinion(probs.log().tolist()), weight=0.5)
    voted, order = vote(*_detections())
    assert torch.allclose(voted, torch.tensor([(0.9 * 0.1) ** 0.5, (0.6 * 0.9) ** 0.5]))
    assert order.tolist() == [1, 0]


def test_weight_zero_leaves_the_detector_alone():
    vote = ClassifierVote(FixedOpinion([0.0, 5.0]), weight=0.0)
    pixels, boxes, labels, scores = _detections()
    voted, order = vote(pixels, boxes, labels, scores)
    assert torch.equal(voted, scores) and order.tolist() == [0, 1]
