"""The questions a VQA model learns from: each answer is its program's result, answers are balanced so the question
alone tells nothing, and the held-out combinations stay out of training."""

from collections import Counter, defaultdict

import numpy as np
import pytest

from visionops.data.scenes.questions import (
    QUESTION_TYPES,
    ProgramError,
    candidates,
    execute,
    fact_classes,
    facts,
    generate,
)

from .conftest import CLASSES


@pytest.fixture(scope="module")
def asked(grid_splits):
    splits, heldout = grid_splits
    return {
        name: generate(
            descriptions,
            CLASSES,
            count=count,
            rng=np.random.default_rng(index),
            heldout_combinations=heldout if name == "heldout" else None,
        )
        for index, (name, descriptions, count) in enumerate(
            (n, splits[n], c) for n, c in (("train", 9000), ("test", 3000), ("heldout", 600))
        )
    }


def test_every_stored_answer_is_what_its_program_computes_on_the_scene(grid_splits, asked):
    splits, _ = grid_splits
    for name, questions in asked.items():
        assert questions, name
        for q in questions:
            assert execute(q.program, splits[name][q.scene]["objects"]) == q.answer, q.record()


def test_a_program_that_names_an_item_the_scene_lacks_stops_instead_of_guessing():
    scene = [{"class": "bag", "size": "small", "row": 0, "col": 0}]
    with pytest.raises(ProgramError):
        execute([["scene"], ["filter_class", "coat"], ["unique"], ["query_size"]], scene)
    assert execute([["scene"], ["filter_class", "coat"], ["exist"]], scene) == "no"


def test_every_type_is_asked_and_answers_are_equally_common_within_each_question(asked):
    train = asked["train"]
    assert set(Counter(q.kind for q in train)) == set(QUESTION_TYPES)
    per_text: dict[str, Counter] = defaultdict(Counter)
    for q in train:
        per_text[q.text][q.answer] += 1
    for text, answers in per_text.items():
        assert len(answers) >= 2 and len(set(answers.values())) == 1, (text, answers)
    yes_no = Counter(q.answer for q in train if q.kind in ("exist", "relation", "compare"))
    assert abs(yes_no["yes"] - yes_no["no"]) <= 0.02 * sum(yes_no.values())


def _blind_oracle_accuracy(train, test) -> float:
    """The best any question-only model can learn: the most common training answer of each question text, on the
    test yes/no questions (a text never seen answers 'no')."""
    majority: dict[str, Counter] = defaultdict(Counter)
    for q in train:
        majority[q.text][q.answer] += 1
    test = [q for q in test if q.kind in ("exist", "relation", "compare")]
    guess = {text: answers.most_common(1)[0][0] for text, answers in majority.items()}
    return float(np.mean([guess.get(q.text, "no") == q.answer for q in test]))


def test_the_question_alone_does_no_better_than_chance_on_balanced_yes_no_questions(grid_splits, asked):
    splits, _ = grid_splits
    assert _blind_oracle_accuracy(asked["train"], asked["test"]) <= 0.55
    # without the balancing, the same oracle reads most answers off the question: the check above can fail
    raw = [q for n, d in enumerate(splits["train"]) for q in candidates(n, d["objects"], CLASSES)]
    raw_test = [q for n, d in enumerate(splits["test"]) for q in candidates(n, d["objects"], CLASSES)]
    assert _blind_oracle_accuracy(raw, raw_test) >= 0.7


def test_held_out_combinations_never_reach_training_and_are_what_the_held_out_split_asks_about(grid_splits, asked):
    splits, heldout = grid_splits
    held = set(heldout)
    assert not any(facts(d["objects"]) & held for d in splits["train"])  # no training scene shows one
    assert {q.kind for q in asked["heldout"]} == {"relation", "query_relation"}
    for q in asked["heldout"]:
        pair = frozenset((q.args[0], q.args[2]) if q.kind == "relation" else (q.args[1], q.answer))
        shown = {frozenset(fact_classes(f)) for f in facts(splits["heldout"][q.scene]["objects"]) & held}
        assert pair in shown, q.record()
    answers = Counter(q.answer for q in asked["heldout"] if q.kind == "relation")
    assert answers["yes"] == answers["no"] > 0


def test_the_same_seed_asks_the_same_questions(grid_splits):
    splits, _ = grid_splits
    first, again = (
        [q.record() for q in generate(splits["test"], CLASSES, count=600, rng=np.random.default_rng(5))]
        for _ in range(2)
    )
    assert first == again
