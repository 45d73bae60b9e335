"""The caption grammar: one source for realising captions from a scene and for parsing them back.

    caption  := "there is" np_new | np_new | clause | clause "and" np_new ["is"] rel np_ref
    clause   := np_new ["is"] rel np_new
    np_new   := ("a" | "an") [size] class          np_ref := "the" [size] class
    rel      := "to the left of" | "left of" | "to the right of" | "right of" | "above" | "below"

Class names are single tokens (the dataset's names, e.g. "ankle-boot"); a scene holds each class at most once,
so "the <class>" names one object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SIZES = ("small", "large")
RELATIONS = ("left of", "right of", "above", "below")
INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
_REL_PHRASES = {
    "left of": (("to", "the", "left", "of"), ("left", "of")),
    "right of": (("to", "the", "right", "of"), ("right", "of")),
    "above": (("above",),),
    "below": (("below",),),
}


@dataclass(frozen=True)
class SceneObject:
    label: int  # class index
    size: int  # index into SIZES
    row: int  # canvas cell
    col: int


def relations_between(a: SceneObject, b: SceneObject) -> list[str]:
    """Every relation that holds for `a <rel> b` (two for a diagonal pair)."""
    out = []
    if a.col != b.col:
        out.append("left of" if a.col < b.col else "right of")
    if a.row != b.row:
        out.append("above" if a.row < b.row else "below")
    return out


@dataclass
class Mention:
    label: int
    size: int | None  # None: not stated
    new: bool  # "a"/"an" introduces an object, "the" refers back to one


@dataclass
class Parsed:
    mentions: list[Mention] = field(default_factory=list)
    relations: list[tuple[int, str, int]] = field(default_factory=list)  # (mention, relation, mention)


class CaptionParseError(ValueError):
    pass


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _noun_phrase(obj: SceneObject, classes: list[str], say_size: bool, definite: bool) -> list[str]:
    words = ([SIZES[obj.size]] if say_size else []) + [classes[obj.label]]
    return ["the" if definite else _article(words[0]), *words]


def realise(
    objects: list[SceneObject],
    classes: list[str],
    *,
    rng: np.random.Generator,
    size_prob: float,
    reading_order_prob: float = 1.0,
) -> str:
    """One true caption of the scene, in a phrasing drawn from `rng`: the items in reading order (top row first,
    left to right) with chance `reading_order_prob`, else in a random order."""

    def np_(obj: SceneObject, definite: bool = False) -> list[str]:
        return _noun_phrase(obj, classes, bool(rng.random() < size_prob), definite)

    def rel(a: SceneObject, b: SceneObject) -> list[str]:
        relation = relations_between(a, b)[rng.integers(len(relations_between(a, b)))]
        phrases = _REL_PHRASES[relation]
        is_ = ["is"] if rng.random() < 0.5 else []
        return is_ + list(phrases[rng.integers(len(phrases))])

    if len(objects) == 1:
        words = (["there", "is"] if rng.random() < 0.5 else []) + np_(objects[0])
    else:
        if rng.random() < reading_order_prob:
            order = sorted(range(len(objects)), key=lambda i: (objects[i].row, objects[i].col))
        else:
            order = list(rng.permutation(len(objects)))
        a, b = objects[order[0]], objects[order[1]]
        words = np_(a) + rel(a, b) + np_(b)
        if len(objects) == 3:
            c, ref = objects[order[2]], (a, b)[rng.integers(2)]
            words += ["and", *np_(c), *rel(c, ref), *np_(ref, definite=True)]
    return " ".join(words)


def parse(caption: str | list[str], classes: list[str]) -> Parsed:
    """Parse a caption of this grammar; raise CaptionParseError naming the first token that does not fit."""
    tokens = caption.split() if isinstance(caption, str) else list(caption)
    class_index = {name: i for i, name in enumerate(classes)}
    parsed = Parsed()
    pos = 0

    def peek(k: int = 0) -> str | None:
        return tokens[pos + k] if pos + k < len(tokens) else None

    def fail(what: str) -> CaptionParseError:
        where = f"at {tokens[pos]!r} (word {pos + 1})" if pos < len(tokens) else "at the end"
        return CaptionParseError(f"expected {what} {where}")

    def noun_phrase(definite: bool) -> int:
        nonlocal pos
        if definite and peek() != "the" or not definite and peek() not in ("a", "an"):
            raise fail("'the'" if definite else "'a' or 'an'")
        pos += 1
        size = None
        if peek() in SIZES:
            size = SIZES.index(peek())
            pos += 1
        if peek() not in class_index:
            raise fail("a class name")
        label = class_index[peek()]
        pos += 1
        if definite:
            for i, m in enumerate(parsed.mentions):
                if m.label == label and (size is None or m.size in (None, size)):
                    return i
            pos -= 1
            raise fail("an object named before")
        parsed.mentions.append(Mention(label, size, new=True))
        return len(parsed.mentions) - 1

    def relation() -> str:
        nonlocal pos
        if peek() == "is":
            pos += 1
        for name, phrases in _REL_PHRASES.items():
            for phrase in phrases:
                if tuple(tokens[pos : pos + len(phrase)]) == phrase:
                    pos += len(phrase)
                    return name
        raise fail("a relation")

    if peek() == "there" and peek(1) == "is":
        pos += 2
        noun_phrase(False)
    else:
        first = noun_phrase(False)
        if peek() is not None:
            rel = relation()
            parsed.relations.append((first, rel, noun_phrase(False)))
            if peek() == "and":
                pos += 1
                third = noun_phrase(False)
                rel = relation()
                parsed.relations.append((third, rel, noun_phrase(True)))
    if peek() is not None:
        raise fail("the end of the caption")
    return parsed


ERROR_TYPES = ("unparsable", "wrong_class", "wrong_size", "wrong_relation", "missed_object", "hallucinated_object")


def judge(caption: str | list[str], objects: list[SceneObject], classes: list[str]) -> list[str]:
    """The errors of a caption against its scene (ERROR_TYPES, each at most once); [] means fully true.

    Mentions are matched to objects by class. Left-over mentions and objects pair up as wrong classes;
    what remains is a hallucinated (extra mention) or a missed (unmentioned) object.
    """
    try:
        parsed = parse(caption, classes)
    except CaptionParseError:
        return ["unparsable"]
    errors: set[str] = set()
    by_label = {o.label: o for o in objects}
    matched: dict[int, SceneObject] = {}
    for i, m in enumerate(parsed.mentions):
        if m.label in by_label and by_label[m.label] not in matched.values():
            matched[i] = by_label[m.label]
    spare_mentions = [i for i in range(len(parsed.mentions)) if i not in matched]
    spare_objects = [o for o in objects if o not in matched.values()]
    for i, obj in zip(spare_mentions, spare_objects):
        matched[i] = obj
        errors.add("wrong_class")
    if len(spare_mentions) > len(spare_objects):
        errors.add("hallucinated_object")
    if len(spare_objects) > len(spare_mentions):
        errors.add("missed_object")
    for i, m in enumerate(parsed.mentions):
        if i in matched and m.size is not None and m.size != matched[i].size:
            errors.add("wrong_size")
    for a, rel, b in parsed.relations:
        if a in matched and b in matched and rel not in relations_between(matched[a], matched[b]):
            errors.add("wrong_relation")
    return [e for e in ERROR_TYPES if e in errors]
