import numpy as np
import pytest

from visionops.core.errors import UserError
from visionops.data.fetch import fetch_idx
from visionops.data.prepare import Split, prepare, split_train_val


def test_split_is_stratified_seeded_and_disjoint():
    labels = np.repeat(np.arange(10), 100)
    images = np.arange(len(labels), dtype=np.int64).reshape(-1, 1, 1, 1)  # ids stand in for pixels
    train, val = split_train_val(Split(images, labels), 0.1, seed=3)
    assert np.bincount(val.labels).tolist() == [10] * 10
    assert set(train.images.ravel()).isdisjoint(val.images.ravel())
    assert len(train.labels) + len(val.labels) == len(labels)
    again, _ = split_train_val(Split(images, labels), 0.1, seed=3)
    assert np.array_equal(train.images, again.images)
    other, _ = split_train_val(Split(images, labels), 0.1, seed=4)
    assert not np.array_equal(train.images, other.images)


def test_prepare_writes_uint8_tensors_and_a_manifest(idx_mirror, tmp_path):
    mirror, source = idx_mirror
    raw = tmp_path / "raw"
    fetch_idx(source, raw, [mirror])
    tensors, manifest = prepare(raw, list(source.classes), 0.2, seed=0)
    assert tensors["train_x"].dtype.is_floating_point is False and tensors["train_x"].shape[1:] == (1, 28, 28)
    assert manifest["splits"]["train"]["count"] == 160 and manifest["splits"]["val"]["count"] == 40
    assert manifest["splits"]["test"]["count"] == 50
    assert 0 < manifest["mean"] < 1 and 0 < manifest["std"] < 1
    assert len(manifest["splits"]["test"]["images_sha256"]) == 64


def test_label_image_count_mismatch_is_refused(idx_mirror, tmp_path):
    from visionops.data.idx import encode_idx

    mirror, source = idx_mirror
    raw = tmp_path / "raw"
    fetch_idx(source, raw, [mirror])
    (raw / "t10k-labels-idx1-ubyte").write_bytes(encode_idx(np.zeros(7, np.uint8)))
    with pytest.raises(UserError, match="50 t10k images but 7 labels"):
        prepare(raw, list(source.classes), 0.2, seed=0)
