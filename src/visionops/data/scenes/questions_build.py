"""The questions stage's work: balanced questions with answers and programs over every grid-scene split, beside a
manifest that records the scenes they were asked of and the checksums of what it wrote."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

SPLITS = ("train", "val", "test", "heldout")


def questions_stage(*, scenes: Path, out: Path, params: Any, root: Path) -> None:
    """Generate the questions of each scene split in `scenes` into `out`, with the manifest."""
    import numpy as np

    from visionops.core.io import atomic_dir, read_json
    from visionops.data.scenes.compose import SCENE_MANIFEST_FILE, load_descriptions
    from visionops.data.scenes.questions import QUESTIONS_MANIFEST_FILE, answer_list, generate

    p = params.questions
    scene_manifest = scenes / SCENE_MANIFEST_FILE
    meta = read_json(scene_manifest, "dvc repro scenes")
    classes = meta["classes"]
    manifest: dict[str, Any] = {
        "scenes_manifest_sha256": hashlib.sha256(scene_manifest.read_bytes()).hexdigest(),
        "answers": answer_list(classes),
        "heldout_combinations": meta["heldout_combinations"],
        "splits": {},
    }
    with atomic_dir(out) as tmp:
        for index, name in enumerate(SPLITS):
            descriptions = load_descriptions(scenes, name)
            questions = generate(
                descriptions,
                classes,
                count=getattr(p, name),
                rng=np.random.default_rng([p.seed, index]),
                heldout_combinations=meta["heldout_combinations"] if name == "heldout" else None,
            )
            path = tmp / f"{name}.jsonl"
            path.write_text("".join(json.dumps(q.record(), separators=(",", ":")) + "\n" for q in questions))
            manifest["splits"][name] = {
                "questions": len(questions),
                "scenes_asked": len({q.scene for q in questions}),
                "per_type": dict(Counter(q.kind for q in questions)),
                "per_answer": dict(sorted(Counter(q.answer for q in questions).items())),
                "sha256": {path.name: hashlib.sha256(path.read_bytes()).hexdigest()},
            }
        (tmp / QUESTIONS_MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    counts = ", ".join(f"{k} {v['questions']}" for k, v in manifest["splits"].items())
    print(f"questions: {counts} questions into {out}")
