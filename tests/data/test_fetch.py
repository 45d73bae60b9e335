import dataclasses
import gzip
import hashlib

import pytest

from visionops.core.errors import UserError
from visionops.data.fetch import fetch_idx
from visionops.data.sources import FASHION_MNIST


def test_fetch_from_mirror_writes_verified_decompressed_files(idx_mirror, tmp_path):
    mirror, source = idx_mirror
    dest = tmp_path / "raw"
    origins = fetch_idx(source, dest, [mirror])
    assert set(origins) == set(source.sha256)
    for name, digest in source.sha256.items():
        assert hashlib.sha256((dest / name).read_bytes()).hexdigest() == digest


def test_recompressed_mirror_still_verifies(idx_mirror, tmp_path):
    """Checksums are of the decompressed bytes, so a mirror that recompresses (other gzip header) is fine."""
    mirror, source = idx_mirror
    for path in mirror.iterdir():
        path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1, mtime=12345))
    fetch_idx(source, tmp_path / "raw", [mirror])


def test_checksum_mismatch_fails_and_keeps_the_previous_output(idx_mirror, tmp_path):
    mirror, source = idx_mirror
    dest = tmp_path / "raw"
    fetch_idx(source, dest, [mirror])
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    name = "t10k-labels-idx1-ubyte"
    raw = bytearray(gzip.decompress((mirror / f"{name}.gz").read_bytes()))
    raw[-1] ^= 1
    (mirror / f"{name}.gz").write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(UserError, match=f"{name}.gz: SHA-256 of the decompressed bytes is .* expected"):
        fetch_idx(source, dest, [mirror])
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".raw")] == []


def test_truncated_gzip_is_refused(idx_mirror, tmp_path):
    mirror, source = idx_mirror
    path = mirror / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(UserError, match="corrupt or truncated gzip"):
        fetch_idx(source, tmp_path / "raw", [mirror])
    assert not (tmp_path / "raw").exists()


def test_missing_mirror_without_network_says_what_to_do(idx_mirror, tmp_path):
    _, source = idx_mirror
    with pytest.raises(UserError, match=r"in no local mirror .* could not be downloaded .*set VISIONOPS_TEST_MIRROR"):
        fetch_idx(source, tmp_path / "raw", [tmp_path / "nowhere"], timeout=2)
    assert not (tmp_path / "raw").exists()


def test_fashion_mnist_hint_names_the_debian_package(tmp_path):
    source = dataclasses.replace(FASHION_MNIST, urls=("http://127.0.0.1:9/",))
    with pytest.raises(UserError, match="dataset-fashion-mnist"):
        fetch_idx(source, tmp_path / "raw", [tmp_path / "nowhere"], timeout=2)
