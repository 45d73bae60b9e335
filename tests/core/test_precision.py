"""`precision: auto` picks bf16 on a CPU only where it was measured to train faster than fp32 (benchmarks/precision.py):
with AMX, and with AVX512-BF16 on AMD; not with AVX512-BF16 on an Intel CPU without AMX (0.83x, 0.68x), nor with
oneDNN's emulated bf16 on AVX-512 alone (2-4x slower)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from visionops.core import lightning
from visionops.core.lightning import cpu_vendor, resolve_precision


@pytest.mark.parametrize(
    ("amx", "avx512_bf16", "vendor", "expected"),
    [
        (False, False, "GenuineIntel", "32-true"),
        (False, False, "AuthenticAMD", "32-true"),
        (False, True, "GenuineIntel", "32-true"),
        (False, True, "AuthenticAMD", "bf16-mixed"),
        (True, True, "GenuineIntel", "bf16-mixed"),
        (False, True, "", "32-true"),
    ],
)
def test_auto_on_a_cpu_is_bf16_only_where_it_was_measured_faster(monkeypatch, amx, avx512_bf16, vendor, expected):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(lightning, "cpu_vendor", lambda: vendor)
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


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file(), reason="reads Linux's /proc/cpuinfo")
def test_the_vendor_is_read_from_the_cpu():
    assert cpu_vendor() in Path("/proc/cpuinfo").read_text(errors="replace")
    assert cpu_vendor()
