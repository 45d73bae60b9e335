"""Decoding: beam width 1 is greedy, and a beam finds what greedy misses."""

from __future__ import annotations

import numpy as np
import pytest

from visionops.captioning.decode import TorchStepper, beam_search, greedy, log_softmax
from visionops.captioning.networks import Captioner


def sequence_logprob(captioner: Captioner, images: np.ndarray, ids: np.ndarray, bos: int, eos: int) -> np.ndarray:
    stepper = TorchStepper(captioner)
    state = stepper.start(images)
    tokens, total = np.full(len(images), bos), np.zeros(len(images))
    done = np.zeros(len(images), bool)
    for t in range(ids.shape[1]):
        logits, state = stepper.step(tokens, state)
        total += np.where(done, 0.0, log_softmax(logits)[np.arange(len(images)), ids[:, t]])
        done |= ids[:, t] == eos
        tokens = ids[:, t]
    return total


@pytest.mark.parametrize("decoder", ["show_tell", "attention"])
def test_beam_width_one_is_greedy(decoder, tiny_captioner):
    captioner = tiny_captioner(decoder)
    images = np.random.default_rng(0).random((9, 1, 56, 56), dtype=np.float32)
    stepper = TorchStepper(captioner)
    g = greedy(stepper, images, bos=1, eos=2, max_length=8)
    assert np.array_equal(beam_search(stepper, images, bos=1, eos=2, max_length=8, width=1), g)
    wide = beam_search(stepper, images, bos=1, eos=2, max_length=8, width=4)
    assert (
        sequence_logprob(captioner, images, wide, 1, 2) >= sequence_logprob(captioner, images, g, 1, 2) - 1e-9
    ).all()


class GardenPath:
    """Words: 2 <eos>, 3 'a', 4 'b'. After <bos>, 'a' (0.6) beats 'b' (0.4); but after 'a' every word is unsure
    (<eos> 0.34), after 'b' <eos> is sure (0.99). Greedy says 'a' (0.204 in all), a beam 'b' (0.396)."""

    table = {
        1: [0.0, 0.0, 0.0, 0.6, 0.4],
        3: [0.0, 0.0, 0.34, 0.33, 0.33],
        4: [0.0, 0.0, 0.99, 0.005, 0.005],
        2: [0.0, 0.0, 1.0, 0.0, 0.0],
    }

    def start(self, images):
        return {"dummy": np.zeros((len(images), 1), np.float32)}

    def step(self, tokens, state):
        with np.errstate(divide="ignore"):
            return np.log(np.array([self.table[int(t)] for t in tokens])), state


def test_a_beam_finds_the_likelier_caption_that_greedy_misses():
    images = np.zeros((2, 1, 4, 4), np.float32)
    assert greedy(GardenPath(), images, bos=1, eos=2, max_length=4)[:, :2].tolist() == [[3, 2]] * 2
    assert beam_search(GardenPath(), images, bos=1, eos=2, max_length=4, width=2)[:, :2].tolist() == [[4, 2]] * 2
