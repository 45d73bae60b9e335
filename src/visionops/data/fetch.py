"""Fetch an IDX dataset from a local mirror or its official URLs, verifying each file's pinned SHA-256."""

from __future__ import annotations

import gzip
import hashlib
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any

from visionops.core.errors import TransientError, UserError
from visionops.core.io import atomic_dir
from visionops.data.sources import IdxSource


def _decompress(blob: bytes, origin: str) -> bytes:
    if blob[:2] != b"\x1f\x8b":
        return blob
    try:
        return gzip.decompress(blob)
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(
            f"{origin} is a corrupt or truncated gzip file ({exc}); replace it or remove it from the mirror"
        ) from None


def _from_mirror(name: str, mirrors: list[Path]) -> tuple[bytes, str] | None:
    for folder in mirrors:
        for candidate in (folder / f"{name}.gz", folder / name):
            if candidate.is_file():
                return _decompress(candidate.read_bytes(), str(candidate)), str(candidate)
    return None


MAX_DOWNLOAD = 64 << 20  # the largest official file, train-images gzipped, is 26 MB


def _download(name: str, urls: tuple[str, ...], timeout: float) -> tuple[bytes, str]:
    failures = []
    for base in urls:
        url = f"{base}{name}.gz"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                blob = response.read(MAX_DOWNLOAD + 1)
            if len(blob) > MAX_DOWNLOAD:
                raise UserError(f"{url} sends more than {MAX_DOWNLOAD >> 20} MB, far more than the dataset; not used")
            return _decompress(blob, url), url
        except (urllib.error.URLError, OSError) as exc:
            failures.append(f"{url}: {getattr(exc, 'reason', exc)}")
    raise ConnectionError("; ".join(failures))


def fetch_idx(
    source: IdxSource, dest: Path, mirrors: list[Path] | None = None, timeout: float = 30.0
) -> dict[str, str]:
    """Write the decompressed, verified files of `source` into `dest`; return {file: origin}.

    Every file is checked before `dest` is replaced, so a failure leaves the previous `dest` as it was.
    """
    mirrors = source.mirror_dirs() if mirrors is None else mirrors
    origins: dict[str, str] = {}
    with atomic_dir(dest) as tmp:
        for name, expected in source.sha256.items():
            found = _from_mirror(name, mirrors)
            if found is None:
                try:
                    found = _download(name, source.urls, timeout)
                except ConnectionError as exc:
                    where = ", ".join(str(m) for m in mirrors) or "(none)"
                    hint = (
                        "install the Debian/Ubuntu package dataset-fashion-mnist or "
                        if source.name == "fashion_mnist"
                        else ""
                    )
                    raise TransientError(
                        f"{name} of {source.name} is in no local mirror ({where}) and could not be downloaded "
                        f"({exc}); {hint}set {source.mirror_env} to a folder holding the files"
                    ) from None
            data, origin = found
            digest = hashlib.sha256(data).hexdigest()
            if digest != expected:
                raise UserError(
                    f"{origin}: SHA-256 of the decompressed bytes is {digest}, expected {expected}; "
                    "the file is corrupt or not the official release, replace it"
                )
            (tmp / name).write_bytes(data)
            origins[name] = origin
    return origins


def fetch_stage(*, out: Path, params: Any, root: Path) -> None:
    """Write the dataset that params.data names, verified, into `out`."""
    if params.data.dataset == "imagefolder":
        from visionops.data.imagefolder import fetch_image_folder

        counts = fetch_image_folder((root / params.data.image_folder).resolve(), out)
        print(f"fetch: decoded {counts['train']} train and {counts['test']} test images into {out}")
        return
    from visionops.data.sources import idx_source

    origins = fetch_idx(idx_source(params.data.dataset), out)
    for name, origin in origins.items():
        print(f"fetch: {name} verified (sha256) from {origin}")
