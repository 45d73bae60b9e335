"""The README's set-up commands are what CI runs, and the CLI it documents exists."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def setup_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_readme_opens_with_two_setup_commands_that_ci_runs_verbatim():
    commands = setup_commands()
    assert len(commands) == 2
    assert commands[0].endswith("visionops run") and "dataset-fashion-mnist" in commands[0]
    assert commands[1].endswith("pytest")
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    for command in commands:
        assert command in ci
