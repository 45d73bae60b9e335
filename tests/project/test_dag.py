"""dvc.yaml tells the truth: each stage's `src/` deps are exactly the visionops files its command runs.

The command's module is followed through its imports (module level and inside functions, transitively, by static
analysis), so a file the stage runs but does not list (DVC would not re-run the stage when it changes), and a file it
lists but never runs (DVC would re-run it for nothing), both fail, naming the stage and the file.

`python tests/project/test_dag.py` prints what each stage's src deps should be; with `--write` it puts them into
dvc.yaml (the other deps, comments and order kept).
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PACKAGE_ROOTS = {"visionops": REPO / "src" / "visionops", "pipelines": REPO / "pipelines"}
# modules a module runs by file path, not by import (MLflow executes the captioner's model-from-code file)
RUN_BY_PATH = {"visionops.captioning.serving": frozenset({"visionops.captioning.pyfunc_model"})}


def module_file(module: str) -> Path | None:
    top, *rest = module.split(".")
    if top not in PACKAGE_ROOTS:
        return None
    base = PACKAGE_ROOTS[top].joinpath(*rest)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


@cache
def direct_imports(module: str) -> frozenset[str]:
    """Project modules that `module` imports anywhere in its file (functions included)."""
    path = module_file(module)
    if path is None:
        return frozenset()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    found |= RUN_BY_PATH.get(module, frozenset())
    return frozenset(m for m in found if module_file(m) is not None)


def imported_files(module: str) -> set[Path]:
    """Every project file that running `module` can execute, `__init__.py` files aside (they hold docstrings only,
    which tests/project/test_layout.py checks)."""
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(direct_imports(current))
    files = {module_file(m) for m in seen}
    return {f for f in files if f is not None and f.name != "__init__.py"}


def stage_commands() -> dict[str, tuple[str, list[str]]]:
    """{stage: (the module its cmd runs, its deps)} for every stage of dvc.yaml, foreach stages by their group."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    out = {}
    for name, entry in stages.items():
        body = entry.get("do", entry)
        match = re.search(r"python -m ([\w.]+)", body["cmd"])
        assert match, f"stage {name}: cmd is not `python -m <module>`"
        out[name] = (match.group(1), [str(d) for d in body.get("deps", [])])
    return out


def dag_problems() -> list[str]:
    problems = []
    for stage, (module, deps) in stage_commands().items():
        runs = {str(f.relative_to(REPO)) for f in imported_files(module)}
        listed = {d for d in deps if d.startswith(("src/", "pipelines/"))}
        for path in sorted(listed):
            if (REPO / path).is_dir():
                problems.append(f"stage {stage}: dep {path} is a folder; list the files it runs one by one")
        for path in sorted(runs - listed):
            problems.append(f"stage {stage} runs {path}, which its deps in dvc.yaml do not list")
        for path in sorted(listed - runs):
            if not (REPO / path).is_dir():
                problems.append(f"stage {stage} lists {path} in its deps, but never imports it")
    return problems


def test_every_stage_lists_exactly_the_files_it_runs():
    problems = dag_problems()
    assert not problems, "\n".join(problems)


def test_the_analysis_follows_imports_inside_functions():
    # the stage modules import their family only inside main(), and the family imports core the same way
    files = {str(f.relative_to(REPO)) for f in imported_files("visionops.stages.register")}
    assert "src/visionops/classifier/register.py" in files
    assert "src/visionops/core/promotion.py" in files
    assert "src/visionops/gan/networks.py" not in files


def test_every_stage_can_come_back_from_the_run_cache():
    """DVC leaves a stage out of its run cache when an output is `persist` or uncached without being a metric; such a
    stage reruns in full when a user switches budgets and back, instead of being restored."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    excluded = [
        f"{name}: {path}"
        for name, stage in stages.items()
        for out in stage.get("outs", [])
        if isinstance(out, dict)
        for path, flags in out.items()
        if (flags or {}).get("persist") or (flags or {}).get("cache") is False
    ]
    assert not excluded, f"outputs that keep their stage out of DVC's run cache: {excluded}"


def write_deps() -> None:
    """Replace each stage's src deps in dvc.yaml with the files it runs (its own entry point first)."""
    from ruamel.yaml import YAML

    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)
    doc = rt.load((REPO / "dvc.yaml").read_text())
    for stage, (module, _) in stage_commands().items():
        deps = doc["stages"][stage].get("do", doc["stages"][stage])["deps"]
        kept = [d for d in deps if not str(d).startswith(("src/", "pipelines/"))]
        entry = str(module_file(module).relative_to(REPO))
        runs = sorted(str(f.relative_to(REPO)) for f in imported_files(module) if str(f.relative_to(REPO)) != entry)
        deps.clear()
        deps.extend([*kept, entry, *runs])
    with open(REPO / "dvc.yaml", "w") as out:
        rt.dump(doc, out)


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_deps()
    for stage, (module, _) in stage_commands().items():
        print(f"{stage}:")
        for path in sorted(str(f.relative_to(REPO)) for f in imported_files(module)):
            print(f"  - {path}")
    problems = dag_problems()
    print("\n".join(problems) or "dvc.yaml lists exactly what each stage runs")
    sys.exit(1 if problems else 0)
