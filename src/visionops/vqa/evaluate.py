"""The vqa_evaluate stage's work: every exported VQA network through onnxruntime, and the neuro-symbolic reader's
report, on the test and held-out questions: accuracy overall, per type and per answer, the held-out gap, what the
image adds over the blind model, figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

SPLITS = ("test", "heldout")


def chance_levels(questions: list[dict]) -> dict[str, float]:
    """Per type, the accuracy of the best answer given the question text alone, on these questions themselves (a
    blind oracle): what a balanced split holds any model without the image to."""
    from collections import Counter, defaultdict

    by_text: dict[str, Counter] = defaultdict(Counter)
    kind_of: dict[str, str] = {}
    for q in questions:
        by_text[q["question"]][q["answer"]] += 1
        kind_of[q["question"]] = q["type"]
    right: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for text, answers in by_text.items():
        right[kind_of[text]] += max(answers.values())
        total[kind_of[text]] += sum(answers.values())
    return {k: right[k] / total[k] for k in sorted(total)}


def evaluate_stage(
    *,
    models: list[Path],
    symbolic: Path,
    scenes: Path,
    questions: Path,
    out_path: Path,
    metrics: Path,
    params: Any,
    root: Path,
) -> None:
    """Score the ONNX network in each folder of `models` (its name is the folder's) and gather the symbolic report."""
    import mlflow

    from visionops.core import tracking
    from visionops.core.figures import per_class_bars
    from visionops.core.io import atomic_dir, atomic_write_json, read_json
    from visionops.data.scenes.compose import load_split
    from visionops.data.scenes.questions import QUESTION_TYPES, load_questions
    from visionops.vqa.metrics import accuracy_report, confusion
    from visionops.vqa.plots import confusion_figure, examples_figure
    from visionops.vqa.runtime import FILENAME, load_ort_vqa

    settings = params.vqa_evaluation
    images = {name: load_split(scenes, name).images for name in SPLITS}
    asked = {name: load_questions(questions, name) for name in SPLITS}
    symbolic_report = read_json(symbolic, "dvc repro vqa_symbolic")
    report: dict[str, Any] = {"chance": {name: chance_levels(asked[name]) for name in SPLITS}}
    with tracking.stage_run("vqa_evaluate", params.tracking, root), atomic_dir(out_path) as out:
        mlflow.log_params({f"vqa_evaluation.{k}": v for k, v in settings.model_dump().items()})
        predictions: dict[str, list[str]] = {}
        for folder in models:
            name = folder.name
            ort = load_ort_vqa(folder / FILENAME)
            entry: dict[str, Any] = {"model": ort.meta["model"]}
            for split in SPLITS:
                pixels = images[split][[q["scene"] for q in asked[split]]].astype(np.float32) / 255.0
                answers, _ = ort.answer(
                    pixels if ort.reads_image else None, [q["question"] for q in asked[split]], settings.batch_size
                )
                entry[split] = accuracy_report(answers, asked[split])
                if split == "test":
                    predictions[name] = answers
                    counts = confusion(answers, asked[split], ort.meta["answers"])
                    entry["test_confusion"] = counts.tolist()
            report[name] = _headline(entry)
            if ort.meta["model"] == "film":
                confusion_figure(
                    np.array(entry["test_confusion"]),
                    ort.meta["answers"],
                    f"{name}: answers on the test questions (rows: truth)",
                    out / f"confusion_{name}.png",
                )
        report["symbolic"] = _headline({k: symbolic_report[k] for k in SPLITS} | {"model": "symbolic"})
        for extra in ("scenes_read_right", "errors_from_detector", "wrong_on_scenes_read_right"):
            report["symbolic"][extra] = symbolic_report["test"][extra]
        named = [n for n in report if n != "chance"]
        per_class_bars(
            {n: [report[n]["test"]["per_type"].get(k, np.nan) for k in QUESTION_TYPES] for n in named},
            list(QUESTION_TYPES),
            "test accuracy",
            out / "per_type.png",
        )
        if settings.examples and predictions:
            shown = asked["test"][: settings.examples]
            best = max(predictions, key=lambda n: report[n]["accuracy"])
            examples_figure(
                images["test"][[q["scene"] for q in shown]],
                questions=[q["question"] for q in shown],
                answers=predictions[best][: len(shown)],
                truths=[q["answer"] for q in shown],
                title=f"{best} on test questions (onnxruntime)",
                path=out / "examples.png",
            )
        atomic_write_json(metrics, report)
        flat = {}
        for n in named:
            for key in ("accuracy", "heldout_accuracy", "heldout_gap"):
                flat[f"{n}/{key}"] = report[n][key]
            for kind, value in report[n]["test"]["per_type"].items():
                flat[f"{n}/test/{kind}"] = value
        mlflow.log_metrics(flat)
        mlflow.log_table(
            {
                "model": named,
                **{k: [report[n]["test"]["per_type"].get(k) for n in named] for k in QUESTION_TYPES},
                "test": [report[n]["accuracy"] for n in named],
                "heldout": [report[n]["heldout_accuracy"] for n in named],
            },
            "vqa/comparison.json",
        )
        mlflow.log_artifacts(str(out), "vqa")
        mlflow.log_artifact(str(metrics))
    for n in named:
        r = report[n]
        types = ", ".join(f"{k} {v:.2f}" for k, v in r["test"]["per_type"].items())
        print(f"vqa_evaluate: {n} test {r['accuracy']:.3f} ({types}); held-out {r['heldout_accuracy']:.3f}")


def _headline(entry: dict[str, Any]) -> dict[str, Any]:
    """The numbers a rule or a reader looks for first, beside the full per-split reports."""
    from visionops.vqa.metrics import heldout_gap

    same_types, gap = heldout_gap(entry["test"], entry["heldout"])
    return {
        **entry,
        "accuracy": entry["test"]["accuracy"],
        "heldout_accuracy": entry["heldout"]["accuracy"],
        "test_accuracy_heldout_types": same_types,
        "heldout_gap": gap,
        **{f"test_{k}": v for k, v in entry["test"]["per_type"].items()},
    }
