"""The neuro-symbolic reader (NS-VQA, Yi et al. 2018, with the program given): the exported detector turns a scene
into items, and each question's program runs over them. Its errors are then the detector's, and are traced so.

A detection becomes an item with the class it was detected as, the grid cell of its box's centre, and a size from
its box's longer side (at least `large_side` px: large), the one number fitted here, on the training scenes' boxes.
A class is in a grid scene at most once (the scene grammar), so only its best detection is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from visionops.data.scenes.grammar import SIZES
from visionops.data.scenes.questions import ProgramError, execute


def fit_large_side(descriptions: Sequence[dict]) -> int:
    """The longer-box-side threshold that best separates the training scenes' small items from their large ones."""
    sides = np.array(
        [max(o["box"][2] - o["box"][0], o["box"][3] - o["box"][1]) for d in descriptions for o in d["objects"]]
    )
    large = np.array([o["size"] == "large" for d in descriptions for o in d["objects"]])
    candidates = np.unique(sides)
    errors = [((sides >= t) != large).sum() for t in candidates]
    return int(candidates[int(np.argmin(errors))])


def items_of(
    boxes: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray,
    *,
    names: Sequence[str],
    cell: int,
    large_side: int,
    score_thresh: float,
) -> list[dict]:
    """A scene's items from its detections (`names[label]`; 0 is the background): the best detection of each class."""
    items: dict[str, dict] = {}
    for box, label, score in zip(boxes, labels, scores):
        if score < score_thresh or not 1 <= int(label) < len(names):
            continue
        name = names[int(label)]
        if name in items and items[name]["score"] >= score:
            continue
        x0, y0, x1, y1 = (float(v) for v in box)
        items[name] = {
            "class": name,
            "size": SIZES[int(max(x1 - x0, y1 - y0) >= large_side)],
            "row": int((y0 + y1) / 2 >= cell),
            "col": int((x0 + x1) / 2 >= cell),
            "score": float(score),
        }
    return list(items.values())


def structure(items: Sequence[dict]) -> tuple:
    """What the programs read of a scene: its items' class, size and cell, in a canonical order."""
    return tuple(sorted((o["class"], o["size"], o["row"], o["col"]) for o in items))


def answer_all(questions: Sequence[dict], read: Sequence[list[dict]], truth: Sequence[list[dict]]) -> dict[str, Any]:
    """Each question's answer from the read scene, and whether that scene was read exactly right."""
    answers, exact = [], []
    for q in questions:
        try:
            answers.append(execute(q["program"], read[q["scene"]]))
        except ProgramError:
            answers.append(None)
        exact.append(structure(read[q["scene"]]) == structure(truth[q["scene"]]))
    return {"answers": answers, "scene_read_right": exact}


def misreads(read: Sequence[list[dict]], truth: Sequence[list[dict]], scenes: Sequence[int]) -> dict[str, int]:
    """What the detector got wrong in these scenes, item by item (a class is in a scene at most once): items missed,
    items it saw that are not there (a wrong class is one of each), and found items of the wrong size or cell."""
    out = {"items": 0, "missed": 0, "not_there": 0, "wrong_size": 0, "wrong_cell": 0}
    for n in scenes:
        true, seen = {o["class"]: o for o in truth[n]}, {o["class"]: o for o in read[n]}
        out["items"] += len(true)
        out["missed"] += len(true.keys() - seen.keys())
        out["not_there"] += len(seen.keys() - true.keys())
        for name in true.keys() & seen.keys():
            out["wrong_size"] += true[name]["size"] != seen[name]["size"]
            out["wrong_cell"] += (true[name]["row"], true[name]["col"]) != (seen[name]["row"], seen[name]["col"])
    return out


def pad_to(pixels: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Scenes [N, C, h, w] placed at the top left of the detector's black canvas [N, C, H, W] (the detector was
    trained on 64 px canvases; the grid scenes are 56 px, and nothing is resized)."""
    c, h, w = shape
    n, _, sh, sw = pixels.shape
    if sh > h or sw > w or pixels.shape[1] != c:
        raise ValueError(f"scenes of {pixels.shape[1:]} do not fit the detector's input {shape}")
    out = np.zeros((n, c, h, w), np.float32)
    out[:, :, :sh, :sw] = pixels
    return out


def symbolic_stage(
    *, scenes: Path, questions: Path, detector: Path, metrics_path: Path, params: Any, root: Path
) -> None:
    """Read every asked test and held-out scene with the ONNX detector, answer each question by its program, and
    trace each wrong answer to the scene read wrong (the detector) or read right (the program: never, if correct)."""
    import time

    import mlflow

    from visionops.core import tracking
    from visionops.core.io import atomic_write_json
    from visionops.core.ort import class_names, session
    from visionops.data.scenes.compose import load_descriptions, load_split
    from visionops.data.scenes.questions import load_questions
    from visionops.detection.runtime import detect, input_shape
    from visionops.vqa.metrics import accuracy_report

    settings = params.vqa_symbolic
    sess = session(detector, 0, "run the detect_export stage first (dvc repro detect_export)")
    names = class_names(sess)
    large_side = fit_large_side(load_descriptions(scenes, "train"))
    report: dict[str, Any] = {"large_side": large_side, "score_thresh": settings.score_thresh}
    with tracking.stage_run("vqa_symbolic", params.tracking, root):
        mlflow.log_params({f"vqa_symbolic.{k}": v for k, v in settings.model_dump().items()})
        for split_name in ("test", "heldout"):
            split, asked = load_split(scenes, split_name), load_questions(questions, split_name)
            wanted = sorted({q["scene"] for q in asked})
            started = time.perf_counter()
            pixels = pad_to(split.images[wanted].astype(np.float32) / 255.0, input_shape(sess))
            found = detect(sess, pixels)
            seconds = time.perf_counter() - started
            read: list[list[dict]] = [[] for _ in split.descriptions]
            for n, d in zip(wanted, found):
                read[n] = items_of(
                    d.boxes,
                    d.labels,
                    d.scores,
                    names=names,
                    cell=split.images.shape[-1] // 2,
                    large_side=large_side,
                    score_thresh=settings.score_thresh,
                )
            truth = [d["objects"] for d in split.descriptions]
            result = answer_all(asked, read, truth)
            right = np.array([a == q["answer"] for a, q in zip(result["answers"], asked)], bool)
            exact = np.array(result["scene_read_right"], bool)
            wrong = ~right
            report[split_name] = {
                **accuracy_report(result["answers"], asked),
                "scenes_read_right": float(np.mean([exact[i] for i in range(len(asked))])) if asked else float("nan"),
                "errors_from_detector": float((wrong & ~exact).sum() / max(wrong.sum(), 1)),
                "wrong_on_scenes_read_right": int((wrong & exact).sum()),
                "scenes_per_second": len(wanted) / seconds if seconds else float("nan"),
                "detector_misreads": misreads(read, truth, wanted),
            }
        report["accuracy"] = report["test"]["accuracy"]
        report["heldout_accuracy"] = report["heldout"]["accuracy"]
        atomic_write_json(metrics_path, report)
        tracking.log_json_metrics(report, prefix="symbolic/")
    t = report["test"]
    print(
        f"vqa_symbolic: test accuracy {t['accuracy']:.3f} ({t['errors_from_detector']:.0%} of its errors on scenes the "
        f"detector read wrong; {t['scenes_read_right']:.1%} of questions on scenes read exactly right), held-out "
        f"{report['heldout']['accuracy']:.3f}"
    )
