"""Greedy and beam-search decoding over a `Stepper`, the same Python for torch and for onnxruntime.

A stepper turns images into a decoder state (a dict of arrays, batch first) and advances it by one token.
Scores are kept in float64, so adding a beam's running score never merges two different float32 log-probs:
beam search of width 1 picks exactly what greedy picks.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

State = dict[str, np.ndarray]


class Stepper(Protocol):
    def start(self, images: np.ndarray) -> State: ...

    def step(self, tokens: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """tokens [N] int64 -> (logits [N, V], the next state)."""
        ...


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def greedy(stepper: Stepper, images: np.ndarray, *, bos: int, eos: int, max_length: int) -> np.ndarray:
    """[B, max_length] token ids (after <bos>); positions after <eos> hold <eos>."""
    state = stepper.start(images)
    tokens = np.full(len(images), bos, np.int64)
    out = np.full((len(images), max_length), eos, np.int64)
    done = np.zeros(len(images), bool)
    for t in range(max_length):
        logits, state = stepper.step(tokens, state)
        tokens = np.where(done, eos, log_softmax(logits).argmax(axis=1))
        out[:, t] = tokens
        done |= tokens == eos
        if done.all():
            break
    return out


def beam_search(stepper: Stepper, images: np.ndarray, *, bos: int, eos: int, max_length: int, width: int) -> np.ndarray:
    """The highest-scoring (sum of log-probs) of `width` hypotheses per image, as greedy's [B, max_length] ids."""
    b, k = len(images), width
    state = {name: np.repeat(a, k, axis=0) for name, a in stepper.start(images).items()}
    scores = np.full((b, k), -np.inf)
    scores[:, 0] = 0.0  # all beams start equal: expand only the first
    seqs = np.full((b, k, max_length), eos, np.int64)
    finished = np.zeros((b, k), bool)
    tokens = np.full(b * k, bos, np.int64)
    rows = np.arange(b)[:, None]
    for t in range(max_length):
        logits, state = stepper.step(tokens, state)
        logp = log_softmax(logits).reshape(b, k, -1)
        vocab = logp.shape[2]
        logp[finished] = -np.inf  # a finished hypothesis only continues with <eos>, at no cost
        logp[finished, eos] = 0.0
        candidates = (scores[:, :, None] + logp).reshape(b, k * vocab)
        top = np.argsort(-candidates, axis=1, kind="stable")[:, :k]
        beam, tok = top // vocab, top % vocab
        scores = np.take_along_axis(candidates, top, axis=1)
        seqs = seqs[rows, beam]
        seqs[:, :, t] = tok
        finished = finished[rows, beam] | (tok == eos)
        flat = (rows * k + beam).reshape(-1)
        state = {name: a[flat] for name, a in state.items()}
        tokens = tok.reshape(-1)
        if finished.all():
            break
    return seqs[np.arange(b), scores.argmax(axis=1)]


def decode(
    stepper: Stepper, images: np.ndarray, *, bos: int, eos: int, max_length: int, beam_width: int, batch_size: int = 500
) -> np.ndarray:
    """Greedy (beam_width 1) or beam decoding in batches."""
    parts = []
    for i in range(0, len(images), batch_size):
        chunk = images[i : i + batch_size]
        if beam_width == 1:
            parts.append(greedy(stepper, chunk, bos=bos, eos=eos, max_length=max_length))
        else:
            parts.append(beam_search(stepper, chunk, bos=bos, eos=eos, max_length=max_length, width=beam_width))
    return np.concatenate(parts) if parts else np.zeros((0, max_length), np.int64)


class TorchStepper:
    """A captioner in torch, fed and read as numpy (so both runtimes share the decoding code above)."""

    def __init__(self, captioner: torch.nn.Module) -> None:  # noqa: F821
        self.captioner = captioner.eval()

    def start(self, images: np.ndarray) -> State:
        import torch

        with torch.no_grad():
            memory, h, c = self.captioner.start(torch.from_numpy(images))
        return {"memory": memory.numpy(), "h": h.numpy(), "c": c.numpy()}

    def step(self, tokens: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        import torch

        with torch.no_grad():
            logits, h, c = self.captioner.step(
                torch.from_numpy(tokens),
                torch.from_numpy(state["h"]),
                torch.from_numpy(state["c"]),
                torch.from_numpy(state["memory"]),
            )
        return logits.numpy(), {**state, "h": h.numpy(), "c": c.numpy()}
