"""`precision: auto` picks bf16 on a CPU only where bf16 is native (AMX or AVX512-BF16): oneDNN's emulated bf16 on
AVX-512 alone trained 2-4x slower than fp32 (benchmarks/precision.py)."""

from __future__ import annotations

import pytest
import torch

from visionops.core.lightning import resolve_precision


@pytest.mark.parametrize(
    ("amx", "avx512_bf16", "expected"),
    [(False, False, "32-true"), (False, True, "bf16-mixed"), (True, False, "bf16-mixed")],
)
def test_auto_on_a_cpu_is_bf16_only_with_native_bf16(monkeypatch, amx, avx512_bf16, expected):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    # oneDNN says yes on any AVX-512 CPU; that alone must not choose bf16
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    assert resolve_precision("auto", on_gpu=False) == expected


def test_a_torch_without_the_probes_trains_in_fp32(monkeypatch):
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    assert resolve_precision("auto", on_gpu=False) == "32-true"


def test_an_explicit_precision_is_kept(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert resolve_precision("bf16-mixed", on_gpu=False) == "bf16-mixed"
    assert resolve_precision("32-true", on_gpu=False) == "32-true"
