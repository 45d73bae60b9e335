"""Questions about the grid scenes, each with its answer and the program that computes it (CLEVR-style).

Six types, each a template over a scene's items (a class is in a scene at most once, so "the bag" names one item):

    exist           is there a bag?                           yes | no
    count           how many [small | large] items are there?  0..3
    query_relation  what is left of the sneaker?              a class (asked only when exactly one item is)
    query_size      what size is the coat?                    small | large
    relation        is the bag above the dress?               yes | no
    compare         are the bag and the coat the same size?   yes | no

A program is a list of steps run on a stack over the scene's items (`execute`); the generator computes each answer
from the scene directly, so the stored answer and the program's result are two derivations of one fact.
Answers are balanced per question text (CLEVR balances by rejection): a model that never looks at the image can do
no better than chance on any question it has seen.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from visionops.data.scenes.grammar import RELATIONS, SIZES

QUESTION_TYPES = ("exist", "count", "query_relation", "query_size", "relation", "compare")
YES, NO = "yes", "no"
MAX_COUNT = 3  # a grid scene holds at most three items (scenes.max_objects)
QUESTIONS_MANIFEST_FILE = "manifest.json"


def answer_list(classes: Sequence[str]) -> list[str]:
    """Every answer any question can have, in a fixed order: the models' output classes."""
    return [NO, YES, *(str(n) for n in range(MAX_COUNT + 1)), *classes, *SIZES]


def _yes(flag: bool) -> str:
    return YES if flag else NO


def holds(a: dict, relation: str, b: dict) -> bool:
    """`a <relation> b` for two items of a scene description (cells of the 2x2 grid)."""
    if relation == "left of":
        return a["col"] < b["col"]
    if relation == "right of":
        return a["col"] > b["col"]
    if relation == "above":
        return a["row"] < b["row"]
    if relation == "below":
        return a["row"] > b["row"]
    raise ValueError(f"unknown relation {relation!r}")


@dataclass(frozen=True)
class Question:
    """One question about scene `scene` of its split; `args` fill the template of `kind`."""

    scene: int
    kind: str
    args: tuple
    answer: str

    @property
    def text(self) -> str:
        return question_text(self.kind, self.args)

    @property
    def program(self) -> list[list[str]]:
        return question_program(self.kind, self.args)

    def record(self) -> dict:
        return {
            "scene": self.scene,
            "type": self.kind,
            "question": self.text,
            "answer": self.answer,
            "program": self.program,
        }


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def question_text(kind: str, args: tuple) -> str:
    if kind == "exist":
        return f"is there {_article(args[0])} {args[0]}?"
    if kind == "count":
        return f"how many {args[0] + ' ' if args[0] else ''}items are there?"
    if kind == "query_relation":
        return f"what is {args[0]} the {args[1]}?"
    if kind == "query_size":
        return f"what size is the {args[0]}?"
    if kind == "relation":
        return f"is the {args[0]} {args[1]} the {args[2]}?"
    if kind == "compare":
        return f"are the {args[0]} and the {args[1]} the same size?"
    raise ValueError(f"unknown question type {kind!r}")


def question_program(kind: str, args: tuple) -> list[list[str]]:
    def the(name: str) -> list[list[str]]:
        return [["scene"], ["filter_class", name], ["unique"]]

    if kind == "exist":
        return [["scene"], ["filter_class", args[0]], ["exist"]]
    if kind == "count":
        return [["scene"], *([["filter_size", args[0]]] if args[0] else []), ["count"]]
    if kind == "query_relation":
        return [*the(args[1]), ["relate", args[0]], ["unique"], ["query_class"]]
    if kind == "query_size":
        return [*the(args[0]), ["query_size"]]
    if kind == "relation":
        return [*the(args[2]), ["relate", args[1]], ["filter_class", args[0]], ["exist"]]
    if kind == "compare":
        return [*the(args[0]), ["query_size"], *the(args[1]), ["query_size"], ["equal"]]
    raise ValueError(f"unknown question type {kind!r}")


class ProgramError(ValueError):
    """A program that cannot run on these items: `unique` found none or several (a detector's miss, say)."""


def execute(program: Iterable[Sequence[str]], items: Sequence[dict]) -> str:
    """Run a program on a scene's items (dicts with class, size, row, col); return its answer."""
    stack: list = []
    for op, *arg in program:
        if op == "scene":
            stack.append(list(items))
        elif op == "filter_class":
            stack.append([o for o in stack.pop() if o["class"] == arg[0]])
        elif op == "filter_size":
            stack.append([o for o in stack.pop() if o["size"] == arg[0]])
        elif op == "unique":
            found = stack.pop()
            if len(found) != 1:
                raise ProgramError(f"'unique' found {len(found)} items")
            stack.append(found[0])
        elif op == "relate":
            anchor = stack.pop()
            stack.append([o for o in items if o is not anchor and holds(o, arg[0], anchor)])
        elif op == "query_class":
            stack.append(stack.pop()["class"])
        elif op == "query_size":
            stack.append(stack.pop()["size"])
        elif op == "count":
            stack.append(str(len(stack.pop())))
        elif op == "exist":
            stack.append(_yes(bool(stack.pop())))
        elif op == "equal":
            stack.append(_yes(stack.pop() == stack.pop()))
        else:
            raise ProgramError(f"unknown step {op!r}")
    if len(stack) != 1:
        raise ProgramError(f"the program left {len(stack)} values")
    return stack[0]


def candidates(scene: int, objects: Sequence[dict], classes: Sequence[str]) -> list[Question]:
    """Every question of every type that has one true answer on this scene."""
    present = {o["class"]: o for o in objects}
    out = [Question(scene, "exist", (c,), _yes(c in present)) for c in classes]
    out.append(Question(scene, "count", ("",), str(len(objects))))
    out += [Question(scene, "count", (s,), str(sum(o["size"] == s for o in objects))) for s in SIZES]
    for b in objects:
        out.append(Question(scene, "query_size", (b["class"],), b["size"]))
        for rel in RELATIONS:
            matches = [a for a in objects if a is not b and holds(a, rel, b)]
            if len(matches) == 1:
                out.append(Question(scene, "query_relation", (rel, b["class"]), matches[0]["class"]))
            for a in objects:
                if a is not b:
                    out.append(Question(scene, "relation", (a["class"], rel, b["class"]), _yes(holds(a, rel, b))))
    for i, a in enumerate(objects):
        for b in objects[i + 1 :]:
            out.append(Question(scene, "compare", (a["class"], b["class"]), _yes(a["size"] == b["size"])))
    return out


def balance(
    pool: Sequence[Question], per_type: int, rng: np.random.Generator, *, by_text: bool = True
) -> list[Question]:
    """About `per_type` questions of each type, with every answer equally often within each question text (or, with
    `by_text=False`, within each type). A text seen with a single answer is left out: a blind model would learn it."""
    cells: dict[str, dict[str, dict[str, list[int]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for i, q in enumerate(pool):
        cells[q.kind][q.text if by_text else q.kind][q.answer].append(i)
    chosen: list[int] = []
    for kind in QUESTION_TYPES:
        groups = {key: by_answer for key, by_answer in cells.get(kind, {}).items() if len(by_answer) >= 2}
        n_cells = sum(len(by_answer) for by_answer in groups.values())
        if not n_cells:
            continue
        quota = math.ceil(per_type / n_cells)
        for key in sorted(groups):
            by_answer = groups[key]
            take = min(quota, *(len(ids) for ids in by_answer.values()))
            for answer in sorted(by_answer):
                ids = by_answer[answer]
                chosen += [ids[j] for j in sorted(rng.choice(len(ids), size=take, replace=False))]
    return [pool[i] for i in sorted(chosen)]


def facts(objects: Sequence[dict]) -> set[str]:
    """Every (class, left of | above, class) fact of a scene, written as the manifest writes combinations."""
    return {
        f"{a['class']} {rel} {b['class']}"
        for a in objects
        for b in objects
        if a is not b
        for rel in ("left of", "above")
        if holds(a, rel, b)
    }


def pair_of(q: Question) -> frozenset[str] | None:
    """The two classes a relational question relates (for query_relation, the answer is one of them)."""
    if q.kind == "relation":
        return frozenset((q.args[0], q.args[2]))
    if q.kind == "query_relation":
        return frozenset((q.args[1], q.answer))
    return None


def generate(
    descriptions: Sequence[dict],
    classes: Sequence[str],
    *,
    count: int,
    rng: np.random.Generator,
    heldout_combinations: Sequence[str] | None = None,
) -> list[Question]:
    """About `count` balanced questions over a split's scenes. With `heldout_combinations` (the held-out split):
    only relational questions about a pair a held-out combination of that scene relates, balanced per type."""
    pool: list[Question] = []
    heldout = set(heldout_combinations or [])
    for n, description in enumerate(descriptions):
        objects = description["objects"]
        found = candidates(n, objects, classes)
        if heldout_combinations is not None:
            shown = {frozenset(fact_classes(f)) for f in facts(objects) & heldout}
            found = [q for q in found if pair_of(q) in shown]
        pool += found
    kinds = ("query_relation", "relation") if heldout_combinations is not None else QUESTION_TYPES
    return balance(pool, math.ceil(count / len(kinds)), rng, by_text=heldout_combinations is None)


def fact_classes(fact: str) -> tuple[str, str]:
    for rel in (" left of ", " above "):
        if rel in fact:
            first, second = fact.split(rel)
            return first, second
    raise ValueError(f"not a fact: {fact!r}")


def tokens(question: str) -> list[str]:
    """The words of a question as the models read them: lower case, the question mark dropped."""
    return question.lower().replace("?", " ").split()


def load_questions(folder: Path, name: str) -> list[dict]:
    """The questions of one split (records of `Question.record`), or one line saying which stage to run."""
    from visionops.core.io import read_json_lines

    return read_json_lines(folder / f"{name}.jsonl", "dvc repro questions")


def load_manifest(folder: Path) -> dict:
    from visionops.core.io import read_json

    return read_json(folder / QUESTIONS_MANIFEST_FILE, "dvc repro questions")
