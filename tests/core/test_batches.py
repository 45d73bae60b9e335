import torch

from visionops.core.batches import DeviceBatches, augment
from visionops.core.sections import AugmentParams


def _data(n=103):
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    return images, torch.arange(n)


def test_one_epoch_visits_every_example_once_in_float_batches():
    images, labels = _data()
    batches = DeviceBatches(images, labels, batch_size=16, shuffle=True, seed=1)
    seen = [y for _, y in batches]
    assert len(seen) == len(batches) == 7
    assert sorted(torch.cat(seen).tolist()) == list(range(103))
    x, _ = next(iter(batches))
    assert x.dtype == torch.float32 and x.min() >= 0.0 and x.max() <= 1.0


def test_epochs_reshuffle_and_seeds_repeat():
    images, labels = _data()
    a = DeviceBatches(images, labels, 103, shuffle=True, seed=1)
    first, second = next(iter(a))[1], next(iter(a))[1]
    assert not torch.equal(first, second)
    assert torch.equal(first, next(iter(DeviceBatches(images, labels, 103, shuffle=True, seed=1)))[1])


def test_ranks_take_disjoint_shards_that_cover_the_data():
    images, labels = _data(100)
    shards = [
        torch.cat([y for _, y in DeviceBatches(images, labels, 8, shuffle=True, seed=0, rank=r, world_size=4)])
        for r in range(4)
    ]
    assert all(len(s) == 25 for s in shards)
    assert sorted(torch.cat(shards).tolist()) == list(range(100))


def test_augment_flip_translate_erase_per_image():
    torch.manual_seed(0)
    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 10:18, 0:4] = 1.0  # a bar on the left edge
    flipped = augment(x, AugmentParams(flip=True, translate=0, erase_prob=0.0))
    on_right = flipped[:, 0, 12, 24:].sum(1) > 0
    assert 0 < on_right.sum() < 64  # some images flipped, some not

    shifted = augment(x, AugmentParams(flip=False, translate=3, erase_prob=0.0))
    assert shifted.shape == x.shape
    assert len({tuple(img.nonzero()[0].tolist()) for img in shifted[:, 0]}) > 1  # different shifts per image
    assert torch.allclose(shifted.sum((1, 2, 3)) <= x.sum((1, 2, 3)), torch.ones(64, dtype=torch.bool))

    ones = torch.ones(64, 1, 28, 28)
    erased = augment(ones, AugmentParams(flip=False, translate=0, erase_prob=1.0))
    holes = (erased == 0).flatten(1).sum(1)
    assert (holes > 0).all() and (holes < 28 * 28).all()
