"""Composed scenes: deterministic, split-pure, held-out combinations kept out; the caption grammar parses every
reference back and names what a wrong caption gets wrong."""

from __future__ import annotations

import numpy as np
import pytest

from visionops.data.scenes.compose import choose_heldout, combination_facts, has_combination
from visionops.data.scenes.grammar import SceneObject, judge, parse
from visionops.data.sources import FASHION_MNIST

CLASSES = list(FASHION_MNIST.classes)


def test_scenes_are_deterministic_under_the_seed(item_bank, compose_scenes):
    items, labels = item_bank(200)
    items = items + np.random.default_rng(1).integers(0, 50, items.shape).astype(np.uint8)
    first, again, other = (
        compose_scenes(items, labels, 60, 3),
        compose_scenes(items, labels, 60, 3),
        compose_scenes(items, labels, 60, 4),
    )
    for a, b in zip(first[1:4], again[1:4]):
        assert np.array_equal(a, b)
    assert first[4] == again[4]
    assert not np.array_equal(first[1], other[1])


def test_each_split_uses_its_own_items_and_held_out_combinations_stay_out_of_training(item_bank, compose_scenes):
    combos = choose_heldout(10, 8, 0)
    train_items, labels = item_bank(100)
    test_items, _ = item_bank(200)
    _, train_images, train_masks, _, _ = compose_scenes(train_items, labels, 300, 0, combos=combos)
    layouts_test, test_images, *_ = compose_scenes(test_items, labels, 300, 1, combos=combos)
    layouts_held, *_ = compose_scenes(test_items, labels, 100, 2, heldout=True, combos=combos)
    assert set(np.unique(train_images)) == {0, 100}  # no test pixel in a training scene
    assert set(np.unique(test_images)) == {0, 200}
    layouts_train, *_ = compose_scenes(train_items, labels, 300, 0, combos=combos)
    assert not has_combination(layouts_train, combos, 10).any()
    assert not has_combination(layouts_test, combos, 10).any()
    assert has_combination(layouts_held, combos, 10).all()
    # the mask marks exactly the items' pixels, with their class
    assert ((train_masks > 0) == (train_images[:, 0] > 0)).all()


def test_every_reference_caption_parses_back_to_its_scene(item_bank, compose_scenes):
    items, labels = item_bank(120)
    layouts, _, _, boxes, descriptions = compose_scenes(items, labels, 200, 5)
    counts = set()
    for n, d in enumerate(descriptions):
        objects = layouts.objects(n)
        counts.add(len(objects))
        assert len(d["captions"]) == 5 and len(d["objects"]) == len(objects)
        for caption in d["captions"]:
            assert judge(caption, objects, CLASSES) == [], caption
            assert len(parse(caption, CLASSES).mentions) == len(objects)
        for o in d["objects"]:  # boxes lie in the item's cell
            x0, y0, x1, y1 = o["box"]
            assert o["col"] * 28 <= x0 < x1 <= o["col"] * 28 + 28 and o["row"] * 28 <= y0 < y1 <= o["row"] * 28 + 28
    assert counts == {1, 2, 3}
    assert combination_facts(layouts, 10).shape == (2, 200, 3, 3)


SNEAKER_LEFT_OF_BAG = [SceneObject(7, 0, 0, 0), SceneObject(8, 1, 0, 1)]  # small sneaker, large bag to its right


@pytest.mark.parametrize(
    "caption, errors",
    [
        ("a small sneaker to the left of a large bag", []),
        ("a bag is right of a sneaker", []),
        ("a sneaker is above a bag", ["wrong_relation"]),
        ("a large sneaker left of a bag", ["wrong_size"]),
        ("a sneaker left of a coat", ["wrong_class"]),
        ("a sneaker", ["missed_object"]),
        ("a sneaker left of a bag and a coat above the bag", ["hallucinated_object"]),  # the coat's place is moot
        ("a bag left of a sneaker and a coat above the bag", ["wrong_relation", "hallucinated_object"]),
        ("a sneaker left of", ["unparsable"]),
        ("a sneaker left of the bag", ["unparsable"]),
    ],
)
def test_truthfulness_names_what_is_wrong(caption, errors):
    assert judge(caption, SNEAKER_LEFT_OF_BAG, CLASSES) == errors
