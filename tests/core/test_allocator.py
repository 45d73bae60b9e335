"""The allocator tuning every stage applies: freed blocks are reused, not page-faulted in again."""

import subprocess
import sys

import pytest

CHURN = """
import resource, sys
if sys.argv[1] == "tuned":
    from visionops.core.runtime import tune_allocator
    assert tune_allocator()
def churn():
    for _ in range(20):
        block = bytearray(48 << 20)  # above glibc's largest automatic mmap threshold (32 MB)
        block[::4096] = bytes([1]) * (12 << 10)  # touch every page
        del block
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _minor_faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_tuned_allocator_reuses_freed_memory():
    default, tuned = _minor_faults("default"), _minor_faults("tuned")
    # 20 blocks of 12,288 pages each: every one is faulted in again by default, about none once tuned
    assert default > 100_000
    assert tuned < default / 100
