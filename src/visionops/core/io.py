"""Atomic writes: a killed process leaves the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o666 & ~_umask())  # mkstemp makes 0600; the result should look like any written file
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside `target`; swap it in for `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp.chmod(0o777 & ~_umask())
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def atomic_write_json(target: str | Path, payload: Any) -> None:
    atomic_write_text(target, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def atomic_save(target: str | Path, save: Callable[[Path], None]) -> None:
    """Run `save(tmp_path)` and move the result onto `target`."""
    with atomic_path(target) as tmp:
        save(tmp)


def read_json(path: Path, rerun: str) -> Any:
    """The JSON document in `path`, or one line naming the stage to rerun (`rerun`, e.g. "dvc repro questions")
    when the file is missing or damaged."""
    import json

    from visionops.core.errors import UserError

    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} cannot be read ({type(exc).__name__}); run {rerun}") from None


def read_json_lines(path: Path, rerun: str) -> list[Any]:
    """One JSON value per line of `path`, or one line naming the stage to rerun (`rerun`, e.g. "dvc repro scenes")
    when the file is missing or damaged."""
    import json

    from visionops.core.errors import UserError

    try:
        return [json.loads(line) for line in Path(path).read_text().splitlines()]
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} cannot be read ({type(exc).__name__}); run {rerun}") from None
