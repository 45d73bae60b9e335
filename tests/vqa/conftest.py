import numpy as np
import pytest

from visionops.data.scenes.compose import choose_heldout, sample_split

CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def describe_layouts(layouts) -> list[dict]:
    """Scene descriptions as the scenes stage writes them (no boxes: the questions never read them)."""
    return [
        {
            "objects": [
                {"class": CLASSES[o.label], "size": ("small", "large")[o.size], "row": o.row, "col": o.col}
                for o in layouts.objects(n)
            ]
        }
        for n in range(len(layouts))
    ]


@pytest.fixture(scope="session")
def grid_splits() -> tuple[dict[str, list[dict]], list[str]]:
    """Train, test and held-out scene descriptions as the scenes stage composes them, and the held-out facts."""
    combos = choose_heldout(len(CLASSES), 8, seed=0)
    labels = np.random.default_rng(1).integers(0, 10, 5000)
    splits = {}
    for index, (name, n) in enumerate((("train", 3000), ("test", 1500), ("heldout", 400))):
        layouts = sample_split(
            n,
            item_labels=labels,
            n_classes=10,
            combos=combos,
            heldout=name == "heldout",
            max_objects=3,
            small_prob=0.5,
            side=28,
            small_side=20,
            rng=np.random.default_rng([0, index]),
        )
        splits[name] = describe_layouts(layouts)
    return splits, [c.text(CLASSES) for c in combos]
