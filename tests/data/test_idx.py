import numpy as np
import pytest

from visionops.core.errors import UserError
from visionops.data.idx import encode_idx, parse_idx


def test_round_trip():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(parse_idx(encode_idx(images), "x", 3), images)


def test_bad_magic_is_refused():
    data = bytearray(encode_idx(np.zeros((2, 3, 4), np.uint8)))
    data[2] = 0x0D  # float instead of unsigned byte
    with pytest.raises(UserError, match="not an unsigned-byte IDX file"):
        parse_idx(bytes(data), "x", 3)


def test_wrong_number_of_dimensions_is_refused():
    with pytest.raises(UserError, match="with 3 dimensions"):
        parse_idx(encode_idx(np.zeros(5, np.uint8)), "labels", 3)


def test_truncated_data_is_refused():
    data = encode_idx(np.zeros((10, 28, 28), np.uint8))
    with pytest.raises(UserError, match="truncated or corrupt"):
        parse_idx(data[:-100], "x", 3)


def test_truncated_header_is_refused():
    with pytest.raises(UserError, match="truncated IDX header"):
        parse_idx(b"\x00\x00\x08", "x", 3)
