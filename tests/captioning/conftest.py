"""Fixtures of the captioning tests."""

from __future__ import annotations

import pytest
import torch

from visionops.captioning.networks import AttentionDecoder, Captioner, ShowTellDecoder
from visionops.classifier.trunk import scratch_trunk


def tiny_captioner_of(decoder: str, vocab_size: int = 12, seed: int = 0) -> Captioner:
    torch.manual_seed(seed)
    trunk = scratch_trunk(1, 0.2, 0.3, width=4)
    kind = AttentionDecoder if decoder == "attention" else ShowTellDecoder
    net = kind(vocab_size=vocab_size, feature_dim=16, grid=49, embed_dim=8, hidden_dim=16, attention_dim=8, dropout=0.0)
    return Captioner(trunk, net).eval()


@pytest.fixture(scope="session")
def tiny_captioner():
    """tiny_captioner(decoder, vocab_size=12, seed=0): an untrained captioner on 56x56 scenes, in eval mode."""
    return tiny_captioner_of
