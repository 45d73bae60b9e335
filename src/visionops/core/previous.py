"""A stage's previous outputs, put back when it fails under plain `dvc repro`.

`dvc repro` deletes a stage's outputs before it runs the command, so the stage's own atomic writes cannot save them:
a failed stage would leave nothing. The stage entry point (`visionops.core.stage.stage_main`) therefore puts back,
after a failure, every output that dvc.lock records and that is missing: a cached one from DVC's cache (a folder from
its `.dir` listing), an uncached one (the headline metrics files, which git tracks) from the copy kept, by md5, when
it was last written. `visionops run` does the same its own way (pipelines/dvc_stages.py sets outputs aside).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from visionops.core.io import atomic_dir, atomic_path

CACHE = Path(".dvc") / "cache" / "files" / "md5"
KEPT = Path(".dvc") / "tmp" / "visionops-kept"


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def keep_copies(root: Path, paths: list[str]) -> None:
    """Keep a copy of each of these (uncached) output files, named by its md5, for `restore_missing`."""
    for path in paths:
        source = root / path
        if source.is_file():
            kept = root / KEPT / md5_of(source)
            if not kept.is_file():
                kept.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(kept) as tmp:
                    shutil.copyfile(source, tmp)


def _locked_outputs(root: Path, stage: str) -> list[tuple[str, str]]:
    import yaml

    lock = root / "dvc.lock"
    if not lock.is_file():
        return []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    entry = ((yaml.load(lock.read_text(), Loader=loader) or {}).get("stages") or {}).get(stage) or {}  # noqa: S506
    return [(out["path"], out["md5"]) for out in entry.get("outs", []) if out.get("md5")]


def _object(root: Path, md5: str) -> Path | None:
    for candidate in (root / CACHE / md5[:2] / md5[2:], root / KEPT / md5):
        if candidate.is_file():
            return candidate
    return None


def restore_missing(root: Path, stage: str) -> list[str]:
    """Put back each output of `stage` that dvc.lock records but the workspace lacks; return what came back."""
    restored = []
    for path, md5 in _locked_outputs(root, stage):
        target = root / path
        if target.exists():
            continue
        source = _object(root, md5)
        if source is None:
            continue
        if md5.endswith(".dir"):
            entries = json.loads(source.read_text())
            files = [(e["relpath"], _object(root, e["md5"])) for e in entries]
            if any(found is None for _, found in files):
                continue
            with atomic_dir(target) as tmp:
                for relpath, found in files:
                    (tmp / relpath).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(found, tmp / relpath)  # type: ignore[arg-type]
        else:
            with atomic_path(target) as tmp:
                shutil.copyfile(source, tmp)
        restored.append(path)
    return restored
