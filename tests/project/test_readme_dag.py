"""The README's pipeline diagram is the DAG DVC builds from dvc.yaml, with each foreach stage drawn once and the
edges a longer path already implies left out.

`python tests/project/test_readme_dag.py --write` puts the current diagram into README.md.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
START, END = "<!-- dvc dag, one node per dvc.yaml stage: start -->", "<!-- dvc dag: end -->"


def stage_dag_mermaid() -> str:
    """`dvc dag --mermaid`, its `name@item` stages merged into one node per dvc.yaml stage, transitively reduced."""
    out = subprocess.run(
        [sys.executable, "-m", "dvc", "dag", "--mermaid"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    names = dict(re.findall(r'^\s*(node\d+)\["([^"]+)"\]', out, re.MULTILINE))
    items: dict[str, list[str]] = {}
    for name in names.values():
        group, _, item = name.partition("@")
        items.setdefault(group, [])
        if item:
            items[group].append(item)
    edges = set()
    for a, b in re.findall(r"^\s*(node\d+)-->(node\d+)", out, re.MULTILINE):
        ga, gb = names[a].partition("@")[0], names[b].partition("@")[0]
        if ga != gb:
            edges.add((ga, gb))
    edges = {(a, b) for a, b in edges if not _reachable(a, b, edges - {(a, b)})}  # drawn by a longer path already
    order = sorted(items, key=lambda g: _depth(g, edges))
    lines = ["```mermaid", "flowchart LR"]
    for group in order:
        label = f"{group}@{{{', '.join(sorted(items[group]))}}}" if items[group] else group
        lines.append(f'    {group}["{label}"]')
    lines += [f"    {a} --> {b}" for a, b in sorted(edges, key=lambda e: (order.index(e[0]), order.index(e[1])))]
    return "\n".join([*lines, "```"])


def _reachable(a: str, b: str, edges: set[tuple[str, str]]) -> bool:
    seen, todo = set(), [a]
    while todo:
        node = todo.pop()
        for x, y in edges:
            if x == node and y not in seen:
                if y == b:
                    return True
                seen.add(y)
                todo.append(y)
    return False


def _depth(group: str, edges: set[tuple[str, str]]) -> int:
    parents = [a for a, b in edges if b == group]
    return 1 + max((_depth(p, edges) for p in parents), default=0)


def readme_block(text: str) -> str:
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def test_the_readme_draws_the_dag_of_dvc_yaml():
    readme = (REPO / "README.md").read_text()
    assert START in readme, "README.md has no pipeline diagram; run python tests/project/test_readme_dag.py --write"
    assert readme_block(readme) == stage_dag_mermaid(), "run python tests/project/test_readme_dag.py --write"


if __name__ == "__main__":
    diagram = stage_dag_mermaid()
    if "--write" in sys.argv:
        readme = (REPO / "README.md").read_text()
        before, after = readme.split(START, 1)[0], readme.split(END, 1)[1]
        (REPO / "README.md").write_text(f"{before}{START}\n{diagram}\n{END}{after}")
    print(diagram)
