"""What every DVC stage entry point shares: its argument parser, and the view of only the params that dvc.yaml lists
for it (`visionops.params.start_stage` hands it over).

A stage that reads a key its dvc.yaml entry does not list would not be re-run when that key changes; the view turns
that silent staleness into an error the first time the code path runs. `tracking` and `schedule` are exempt: they
say where records go and when runs start, not what a stage computes.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from visionops.core.config import PARAMS_FILE
from visionops.core.errors import UserError, exits_cleanly

EXEMPT_SECTIONS = ("tracking", "schedule")
_STARTED: list[tuple[Path, str]] = []  # (project root, stage) that start_stage began in this call of stage_main


def started(root: Path, stage: str) -> None:
    """Called by start_stage: the stage this entry point runs, for stage_main to look after."""
    _STARTED[:] = [(root, stage)]


def stage_main(main: Callable[..., Any]) -> Callable[..., Any]:
    """A DVC stage's entry point: a UserError is one line and exit 2 (exits_cleanly), and under plain `dvc repro`
    a failure puts the stage's previous outputs back (visionops.core.previous); a success keeps a copy of its
    uncached ones for that. The pipeline's workers call the undecorated function (inspect.unwrap)."""

    @wraps(main)
    def run(*args: Any, **kwargs: Any) -> Any:
        from visionops.core import previous

        _STARTED.clear()
        try:
            result = main(*args, **kwargs)
        except BaseException:
            for root, stage in _STARTED:
                try:
                    back = previous.restore_missing(root, stage)
                except (OSError, ValueError, KeyError) as exc:  # never hide the stage's own error behind this one
                    print(f"note: {stage}'s previous outputs could not be put back ({exc})", file=sys.stderr)
                    continue
                if back:
                    print(f"note: {stage} failed; its previous {', '.join(back)} put back", file=sys.stderr)
            raise
        for root, stage in _STARTED:
            try:
                previous.keep_copies(root, uncached_outputs(root / "dvc.yaml", stage))
            except (OSError, UserError) as exc:  # the stage's work is done; only the safety copy is missing
                print(f"note: no safety copy of {stage}'s metrics ({exc})", file=sys.stderr)
        return result

    return exits_cleanly(run)


class UndeclaredParams(RuntimeError):
    """A stage read a params key that its dvc.yaml entry does not list: a bug in dvc.yaml or in the stage."""


def stage_parser(description: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", type=Path, default=Path(PARAMS_FILE))
    return parser


def stage_names(dvc_yaml: Path) -> list[str]:
    """Every stage dvc.yaml defines, a foreach stage's items as `name@key`."""
    import yaml

    names = []
    for name, entry in ((yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages") or {}).items():
        items = entry.get("foreach") if isinstance(entry, dict) else None
        names += [f"{name}@{key}" for key in items] if items else [name]
    return names


def _resolved_entry(dvc_yaml: Path, stage: str) -> tuple[dict[str, Any], Any]:
    """dvc.yaml's entry for `stage` (`train@standard` for a foreach stage) and the function that interpolates
    `${key}` and `${item...}` in its strings."""
    import yaml

    stages = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages", {})
    name, _, key = stage.partition("@")
    entry = stages.get(name)
    if entry is None:
        raise UserError(f"dvc.yaml has no stage '{name}'")
    if "foreach" not in entry:
        return entry, lambda text: text
    items = entry["foreach"]
    if isinstance(items, dict):
        if key not in items:
            raise UserError(f"dvc.yaml's stage '{name}' has no item '{key}' (it has: {', '.join(items)})")
        item: Any = items[key]
    elif key in items:
        item = key
    else:
        raise UserError(f"dvc.yaml's stage '{name}' has no item '{key}' (it has: {', '.join(map(str, items))})")

    def interpolate(text: str) -> str:
        def value(match: re.Match[str]) -> str:
            ref = match.group(1)
            if ref == "key":
                return key
            if ref == "item":
                return str(item)
            return str(item[ref.removeprefix("item.")])

        return re.sub(r"\$\{\s*(key|item(?:\.\w+)?)\s*\}", value, text)

    return entry["do"], interpolate


def declared_params(dvc_yaml: Path, stage: str) -> set[str]:
    """The params keys dvc.yaml lists for `stage` (`train@standard` for a foreach stage), interpolated."""
    entry, interpolate = _resolved_entry(dvc_yaml, stage)
    return {interpolate(_param_name(p)) for p in entry.get("params", [])}


def uncached_outputs(dvc_yaml: Path, stage: str) -> list[str]:
    """The stage's outputs that DVC does not cache (the headline metrics files, the detection and VQA report folders)
    and does not keep (persist) across a run."""
    entry, interpolate = _resolved_entry(dvc_yaml, stage)
    found = []
    for kind in ("outs", "metrics", "plots"):
        for out in entry.get(kind, []):
            if isinstance(out, dict):
                for path, flags in out.items():
                    flags = flags or {}
                    if flags.get("cache", True) is False and not flags.get("persist", False):
                        found.append(interpolate(path))
    return found


def _param_name(entry: Any) -> str:
    if isinstance(entry, str):
        return entry
    raise UserError(f"dvc.yaml params entry {entry!r}: only keys of params.yaml are supported")


def _covers(declared: set[str], key: str) -> bool:
    """`key` itself, or a section above it, is declared."""
    parts = key.split(".")
    return any(".".join(parts[:i]) in declared for i in range(1, len(parts) + 1))


def _below(declared: set[str], key: str) -> bool:
    return any(d.startswith(key + ".") for d in declared)


class _PartialSection:
    """A section of which only some keys are declared: reading another one raises."""

    def __init__(self, value: Any, path: str, view: ParamsView) -> None:
        self._value, self._path, self._view = value, path, view

    def __getattr__(self, name: str) -> Any:
        return self._view.read(f"{self._path}.{name}", getattr(self._value, name))

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        full = self._value.model_dump(**kwargs)
        return {k: v for k, v in full.items() if _covers(self._view.declared, f"{self._path}.{k}")}


class ParamsView:
    """The validated params as one stage may read them (see the module docstring)."""

    def __init__(self, params: Any, declared: set[str], stage: str) -> None:
        self.params, self.declared, self.stage = params, set(declared), stage

    def read(self, key: str, value: Any) -> Any:
        if key.split(".", maxsplit=1)[0] in EXEMPT_SECTIONS or _covers(self.declared, key):
            return value
        if _below(self.declared, key) and hasattr(value, "model_dump"):
            return _PartialSection(value, key, self)
        raise UndeclaredParams(
            f"stage {self.stage} reads params '{key}', which dvc.yaml does not list for it: add it to the stage's "
            f"params (it lists: {', '.join(sorted(self.declared)) or 'none'})"
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in type(self.params).model_fields:
            raise AttributeError(name)
        return self.read(name, getattr(self.params, name))

    def section(self, name: str, kind: type) -> Any:
        return self.read(name, self.params.section(name, kind))

    def promotion_rule(self, model: str) -> Any:
        return self.read(f"promotion.{model}", self.params.promotion_rule(model))
