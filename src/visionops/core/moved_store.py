"""A project folder that moved: MLflow records absolute artifact paths in its store, so the project's own sqlite
store is pointed at the new place before anything reads it (otherwise the UI of a moved or copied project shows no
artifacts, `--model models:/…` finds no files, and a copy's new runs would write into the original's folder).

Plain sqlite3, not MLflow: the check runs on every `visionops run`, no-op ones included, and costs milliseconds.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from visionops.core.sections import TrackingParams

# every column of MLflow's schema (3.x) that holds an artifact path; a table or column an older store lacks is skipped
ARTIFACT_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
)


def former_root(recorded: str, expected: str, location: str) -> str | None:
    """The project root (a file URI) that `recorded`, an experiment's artifact root, was made under, when it is this
    project's `location` under another root; None when it is `expected` or not of that form."""
    suffix = "/" + Path(location).as_posix().strip("/")
    if recorded == expected or not recorded.startswith("file://") or not recorded.endswith(suffix):
        return None
    return recorded[: -len(suffix)]


def rewrite_prefixes(db: sqlite3.Connection, old: str, new: str) -> int:
    """Replace the prefix `old` by `new` in every artifact column; return the number of values changed."""
    changed = 0
    for table, column in ARTIFACT_COLUMNS:
        columns = {row[1] for row in db.execute(f"pragma table_info({table})")}
        if column not in columns:
            continue
        cursor = db.execute(
            f"update {table} set {column} = ? || substr({column}, ?) where substr({column}, 1, ?) = ?",  # noqa: S608
            (new, len(old) + 1, len(old), old),
        )
        changed += cursor.rowcount
    return changed


def follow_moved_project(params: TrackingParams, root: Path, uri: str) -> str | None:
    """Point the project's MLflow store at this folder when it was made in another; return a note saying so, or None.

    Only a sqlite store inside the project, whose experiment's artifact root is `tracking.artifact_location` under
    another folder: a server, or a store shared from elsewhere, keeps its paths.
    """
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or "://" in params.artifact_location:
        return None
    root = root.resolve()
    db_path = Path(uri[len(prefix) :])
    if not db_path.is_file() or not db_path.resolve().is_relative_to(root):
        return None
    expected = (root / params.artifact_location).resolve().as_uri()
    db = sqlite3.connect(db_path, timeout=30)
    try:
        with db:  # one transaction: every path is rewritten, or none
            row = db.execute(
                "select artifact_location from experiments where name = ?", (params.experiment,)
            ).fetchone()
            old = former_root(row[0], expected, params.artifact_location) if row else None
            if old is None:
                return None
            old_path, new_uri = unquote(urlparse(old).path), root.as_uri()
            changed = rewrite_prefixes(db, old + "/", new_uri + "/") + rewrite_prefixes(db, old_path + "/", f"{root}/")
    except sqlite3.Error:
        return None  # not a store this check can read: opening it through MLflow gives the one-line answer
    finally:
        db.close()
    return (
        f"note: the project was moved from {old_path}; its MLflow store now points at {root} ({changed} artifact paths)"
    )
