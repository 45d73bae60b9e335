"""DVC's bookkeeping for the stages the flow runs itself: what is stale, the run cache, and dvc.lock.

`dvc repro` starts a fresh interpreter per stage and pays its imports, DVC's start-up and MLflow's set-up every time.
The flow instead keeps one DVC repo open for the whole run and asks it, stage by stage, exactly what
`dvc repro --single-item` would: is the stage changed (deps, params, outs, command), can the run cache restore it,
and, after the command ran, it hashes the outputs, caches them and writes the stage's entry in dvc.lock. Only the
command itself runs elsewhere (a warm worker, see workers.py). dvc.yaml stays the one place for the DAG, and plain
`dvc repro` runs the same commands.

Unlike `dvc repro`, a stage's previous outputs are not deleted before its command runs but set aside
(`.dvc/tmp/visionops-previous/<stage>/`), and put back if the command fails: a failed stage loses nothing that an
earlier run made, metrics (which DVC does not cache) included. A flow killed mid-stage leaves them set aside; the
next run puts them back before it decides anything.
"""

from __future__ import annotations

import os
import shlex
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from visionops.core.errors import UserError
from visionops.core.previous import keep_copies

SKIPPED, RESTORED, RAN = "skipped", "restored", "ran"
PREVIOUS = Path(".dvc") / "tmp" / "visionops-previous"


@dataclass(frozen=True)
class Command:
    """A stage's command: `python -m <module> <argv>` (run in a warm worker), or any other shell line."""

    line: str
    module: str | None
    argv: tuple[str, ...]
    group: str | None  # stages of one group never run at the same time (dvc.yaml `meta: {serial: <group>}`)


def parse_command(line: str, group: str | None = None) -> Command:
    parts = shlex.split(line)
    if len(parts) >= 3 and parts[0] == "python" and parts[1] == "-m":
        return Command(line, parts[2], tuple(parts[3:]), group)
    return Command(line, None, (), group)


class DvcStages:
    """An open DVC repo, locked for the run as `dvc repro` locks it. Use from one thread only; it works from the
    project's root (DVC resolves the outputs' paths against the working directory) and restores the old one."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._repo: Any = None
        self._stages: dict[str, Any] = {}
        self._unlocked: list[str] = []  # finished, their dvc.lock entries not yet written
        self._written = 0.0  # time.monotonic() of the last dvc.lock write
        self._cwd = ""

    def __enter__(self) -> DvcStages:
        import logging

        from dvc.repo import Repo

        logging.getLogger("dvc").setLevel(logging.WARNING)  # its per-stage notes; the flow logs what it decided
        self._cwd = os.getcwd()
        os.chdir(self.root)
        self._repo = Repo(str(self.root))
        self._repo.lock.lock()
        self._stages = {stage.name: stage for stage in self._repo.index.stages}
        for name in self._stages:  # outputs set aside by a run that was killed
            self.put_back(name)
        return self

    def graph(self) -> tuple[list[str], dict[str, list[str]]]:
        """Stage names in execution order (ties keep dvc.yaml's order) and each stage's upstream stages."""
        import networkx as nx

        graph = self._repo.index.graph  # edges point from a stage to the stages it depends on
        position = {stage: i for i, stage in enumerate(self._repo.index.stages)}
        ordered = nx.lexicographical_topological_sort(graph.reverse(), key=lambda s: f"{position[s]:06d}")
        upstream = {stage.name: sorted(s.name for s in graph.successors(stage)) for stage in graph}
        return [stage.name for stage in ordered], upstream

    def stale(self) -> list[str]:
        """The stages that would run now (their deps, params, outputs or command changed), before any runs."""
        return [name for name, stage in self._stages.items() if stage.changed()]

    def resumable(self) -> set[str]:
        """Stages that keep checkpoints to resume from (a `--checkpoints` folder): the training stages, the long ones.

        The folders are not DVC outputs: DVC leaves them alone, so a killed run resumes, and the stages stay in the
        run cache and need nothing pushed for a clone to be up to date."""
        return {name for name, stage in self._stages.items() if "--checkpoints" in (stage.cmd or "").split()}

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self.write_lock()  # what finished is recorded, whatever ends the run
        finally:
            try:
                self._repo.lock.unlock()
                self._repo.close()
            finally:
                os.chdir(self._cwd)

    def command(self, name: str) -> Command:
        stage = self._stages[name]
        return parse_command(stage.cmd, (stage.meta or {}).get("serial"))

    def begin(self, name: str, *, force: bool = False) -> str | None:
        """SKIPPED (nothing changed), RESTORED (from the run cache, recorded) or None: run its command, then `finish`.

        As `dvc repro` does: the outputs are removed first (persistent ones are kept), so a stale one never survives.
        `force`: run it even if nothing changed, as `dvc repro -f`.
        """
        from dvc.exceptions import DvcException
        from dvc.stage.cache import RunCacheNotFoundError

        stage = self._stages[name]
        try:
            if not force and not stage.changed():
                return SKIPPED
            self._set_aside(name)
            stage.remove_outs(ignore_remove=False, force=False)
            if force:
                stage.save_deps()
                return None
            try:
                self._repo.stage_cache.restore(stage)
            except RunCacheNotFoundError:
                stage.save_deps()
                return None
        except DvcException as exc:  # a missing dependency, say: DVC's own one line
            self.put_back(name)
            raise UserError(f"stage '{name}': {exc}") from None
        self.finish(name)
        return RESTORED

    def _previous(self, name: str) -> Path:
        return self.root / PREVIOUS / name.replace("@", "_at_")

    def _outputs(self, name: str) -> list[str]:
        """The stage's outputs that a run replaces (persistent ones, checkpoints, are kept in place anyway)."""
        return [str(out.def_path) for out in self._stages[name].outs if not out.persist]

    def _set_aside(self, name: str) -> None:
        """Move the stage's existing outputs into its `PREVIOUS` folder (a leftover one is put back first)."""
        self.put_back(name)
        folder = self._previous(name)
        for path in self._outputs(name):
            if (self.root / path).exists() or (self.root / path).is_symlink():
                (folder / path).parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.root / path, folder / path)

    def put_back(self, name: str) -> None:
        """After a failure: whatever the stage left of its outputs goes, and the set-aside ones return."""
        folder = self._previous(name)
        if not folder.is_dir():
            return
        for path in self._outputs(name):
            kept = folder / path
            if not (kept.exists() or kept.is_symlink()):
                continue
            target = self.root / path
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(kept, target)
        shutil.rmtree(folder)

    def _discard_previous(self, name: str) -> None:
        shutil.rmtree(self._previous(name), ignore_errors=True)

    def finish(self, name: str) -> None:
        """After a stage's command succeeded: `save_outputs`; its dvc.lock entry follows with the next `write_lock`
        (at the latest when the repo is closed)."""
        self.save_outputs(name)
        self._unlocked.append(name)

    def save_outputs(self, name: str) -> None:
        """Hash the stage's outputs and put them in the cache (and its run in the run cache)."""
        from dvc.exceptions import DvcException

        stage = self._stages[name]
        uncached = any(not out.use_cache for out in stage.outs if not (out.is_metric or out.is_plot))
        try:
            stage.save(run_cache=not uncached)  # as dvc repro: no run cache for stages with uncached outputs
            stage.commit()
        except DvcException as exc:  # an output the command did not write, say
            self.put_back(name)
            raise UserError(f"stage '{name}': {exc}") from None
        self._discard_previous(name)
        # for plain `dvc repro` to put them back if the stage fails there (visionops.core.previous)
        keep_copies(self.root, [str(out.def_path) for out in stage.outs if not out.use_cache and not out.persist])

    def output_md5(self, name: str, path: str) -> str | None:
        """The md5 DVC computed for the stage's output `path` (as dvc.lock will record it), if it has that output."""
        for out in self._stages[name].outs:
            if out.def_path == path and out.hash_info:
                return str(out.hash_info.value)
        return None

    def write_lock(self, *, unless_written_within: float = 0.0) -> None:
        """Write the dvc.lock entries of the stages finished since the last write, in one rewrite of the file; none
        while the last write is less than `unless_written_within` seconds old.

        DVC parses and rewrites the whole file for every write (about 1.3 s here, for 50 stages), in the flow's one
        thread: one write per stage made a run that only restores stages from the run cache, or the tiny budget's
        run of seconds-long stages, spend most of its time on dvc.lock. An entry not yet written when the flow is
        killed costs little: the stage's run is in the run cache, and the next run restores it from there."""
        if not self._unlocked or time.monotonic() - self._written < unless_written_within:
            return
        stages = [self._stages[name] for name in self._unlocked]
        stages[0].dvcfile.dump_stages(stages, update_pipeline=False)
        self._unlocked.clear()
        self._written = time.monotonic()
