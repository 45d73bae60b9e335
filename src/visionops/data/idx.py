"""The IDX format of MNIST and Fashion-MNIST, parsed with its header checked."""

from __future__ import annotations

import numpy as np

from visionops.core.errors import UserError

_UBYTE = 0x08


def parse_idx(data: bytes, name: str, expected_ndim: int) -> np.ndarray:
    """Parse unsigned-byte IDX `data` into an array; refuse a bad magic number, shape or length."""
    if len(data) < 4:
        raise UserError(f"{name}: truncated IDX header ({len(data)} bytes); delete it and fetch again")
    zero, dtype, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or dtype != _UBYTE or ndim != expected_ndim:
        raise UserError(
            f"{name}: not an unsigned-byte IDX file with {expected_ndim} dimensions "
            f"(magic {data[:4].hex()}); delete it and fetch again"
        )
    if len(data) < 4 + 4 * ndim:
        raise UserError(f"{name}: truncated IDX header ({len(data)} bytes); delete it and fetch again")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    header = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise UserError(
            f"{name}: holds {len(data) - header} bytes of data, header says {expected} ({'x'.join(map(str, dims))}); "
            "the file is truncated or corrupt, delete it and fetch again"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def encode_idx(array: np.ndarray) -> bytes:
    """The inverse of parse_idx, for writing fixtures and user datasets."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, _UBYTE, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()
