"""The vqa_train stage's work: fit one VQA network on the train questions (validated on val), log it to MLflow, save
it with its vocabulary and answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from visionops.core.lightning import quiet_lightning


def load_question_splits(scenes: Path, questions: Path, names: tuple[str, ...]) -> dict[str, Any]:
    """{split: QuestionSplit} from the scenes' pixels and the questions asked of them."""
    from visionops.data.scenes.compose import load_split
    from visionops.data.scenes.questions import load_questions
    from visionops.vqa.fit import QuestionSplit

    return {name: QuestionSplit(load_split(scenes, name).images, load_questions(questions, name)) for name in names}


def train_stage(
    *,
    name: str,
    section: str,
    scenes: Path,
    questions: Path,
    classifier_path: Path,
    checkpoints: Path,
    model: Path,
    metrics_path: Path,
    params: Any,
    root: Path,
) -> None:
    """Train the VQA network of params section `section` as pipeline model `name`."""
    from visionops.vqa.params import VQAParams

    settings = params.section(section, VQAParams)
    quiet_lightning()

    import hashlib

    from visionops.classifier.model_file import load_classifier
    from visionops.core.training import fit_tracked
    from visionops.data.scenes.questions import QUESTIONS_MANIFEST_FILE, load_manifest
    from visionops.vqa.fit import fit_vqa

    uses_classifier = settings.model != "blind" and settings.encoder == "classifier"
    splits = load_question_splits(scenes, questions, ("train", "val"))
    answers = load_manifest(questions)["answers"]
    # what a checkpoint resumes from: the questions (whose manifest names the scenes') and the trunk's weights
    digest = hashlib.sha256((questions / QUESTIONS_MANIFEST_FILE).read_bytes())
    if uses_classifier:
        digest.update(classifier_path.read_bytes())
    classifier = load_classifier(classifier_path) if uses_classifier else None
    metrics = fit_tracked(
        stage=f"vqa_train@{name}",
        name=name,
        section=section,
        settings=settings,
        params=params,
        root=root,
        model=model,
        metrics_path=metrics_path,
        fit=lambda logger: fit_vqa(
            settings,
            splits,
            answers,
            classifier=classifier,
            ckpt_dir=checkpoints,
            data_digest=digest.hexdigest(),
            section=section,
            logger=logger,
        ),
        extra_metrics={"train_questions": len(splits["train"].questions)},
    )
    print(
        f"vqa_train@{name}: {settings.model}, {metrics['epochs']} epochs in {metrics['fit_seconds']:.0f}s, "
        f"val accuracy {metrics.get('val_acc', float('nan')):.3f}"
    )
