"""The README's examples run as written, in the project, on the shared tiny run: every Python block, the Python calls
quoted in its text, and every block of `visionops` commands that read the trained models.

The blocks that set up, run or scale out the pipeline are run elsewhere: the two set-up commands verbatim by CI
(tests/project/test_readme.py), `visionops run` and its budgets by tests/pipeline, the Prefect work pool, the MLflow
server and the DVC remote by tests/scaleout. `test_every_readme_block_is_claimed` fails when a new block appears
that none of these covers."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
# what a bash block starts with -> where it runs, for the blocks this file does not run itself
ELSEWHERE = {
    "apt-get update && apt-get install": "CI (.ci/run runs it verbatim: tests/project/test_readme.py)",
    ". .venv/bin/activate && pytest": "CI (.ci/run runs it verbatim: tests/project/test_readme.py)",
    "visionops run --budget tiny": "tests/pipeline (tiny; gpu without a GPU), CI (the cpu default)",
    "mlflow ui": "not run: a UI server that stays up (tests/scaleout/test_mlflow_server.py serves such a store)",
    "prefect server start": "tests/pipeline/test_serve.py, tests/scaleout/test_prefect_work_pool.py",
    "apt-get install -y postgresql": "tests/scaleout/test_mlflow_server.py",
    "dvc remote add": "tests/scaleout/test_dvc_remote.py",
}
MODEL_COMMANDS = ("predict", "attack", "sample", "caption", "segment", "detect", "ask", "report")


def readme_blocks(language: str) -> list[str]:
    return [body for lang, body in re.findall(r"```(\w*)\n(.*?)```", README.read_text(), re.S) if lang == language]


def model_command_blocks() -> list[str]:
    return [b for b in readme_blocks("bash") if re.match(rf"visionops ({'|'.join(MODEL_COMMANDS)})\b", b)]


def test_every_readme_block_is_claimed():
    unclaimed = [
        block.splitlines()[0]
        for block in readme_blocks("bash")
        if block not in model_command_blocks() and not any(block.startswith(start) for start in ELSEWHERE)
    ]
    assert not unclaimed, f"README blocks no test runs: {unclaimed}"
    assert len(model_command_blocks()) >= 8 and len(readme_blocks("python")) >= 4


@pytest.fixture
def inputs(tiny_pipeline):
    """The image files the README's examples name, written into the project (the examples run there) from the tiny
    run's own test data, and removed afterwards with whatever the examples wrote; `reports/index.html`, which
    `visionops report` rewrites, is put back as the pipeline left it."""
    import torch
    from PIL import Image

    project, _ = tiny_pipeline
    test = torch.load(project / "data/prepared/dataset.pt", weights_only=True)
    items = {int(label): image[0].numpy() for image, label in zip(test["test_x"], test["test_y"], strict=True)}
    grid = np.load(project / "data/scenes/test.npz")["images"][:2, 0]
    cluttered = np.load(project / "data/cluttered_scenes/test.npz")["images"][0, 0]
    files = {
        "shoe.png": items[7],  # sneaker
        "bag.jpg": items[8],
        "scene1.png": grid[0],
        "scene2.png": grid[1],
    }
    scenes = {"grid": grid[0], "cluttered": cluttered}
    index = project / "reports" / "index.html"
    kept = index.read_bytes()
    before = set(os.listdir(project))
    for name, pixels in files.items():
        Image.fromarray(pixels).save(project / name)
    try:
        yield project, scenes
    finally:
        for name in set(os.listdir(project)) - before:
            path = project / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        index.write_bytes(kept)


def _run_block(block: str, project: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-e", "-c", block], cwd=project, env=env, capture_output=True, text=True, timeout=600
    )


def test_the_readme_model_commands_run_as_written(inputs):
    from PIL import Image

    project, scenes = inputs
    outputs = {
        "attack": ["shoe.adv_robust_eps0.1.png"],
        "sample": ["sneakers.png", "grid.png"],
        "segment": ["map.png"],
        "detect": ["found.png"],
        "report": ["reports/index.html"],
    }
    for block in model_command_blocks():
        command = block.split()[1]
        # caption and ask read the captioning grid's 56x56 scenes, segment and detect the 64x64 cluttered ones
        scene = scenes["cluttered" if command in ("segment", "detect") else "grid"]
        Image.fromarray(scene).save(project / "scene.png")
        for name in outputs.get(command, []):
            (project / name).unlink(missing_ok=True)
        result = _run_block(block, project)
        assert result.returncode == 0, f"{block}\n{result.stderr[-2000:]}"
        for name in outputs.get(command, []):
            assert (project / name).stat().st_size > 0, f"{block} wrote no {name}"
        lines = result.stdout.splitlines()
        if command == "predict":
            assert [line.split("\t")[0] for line in lines] == ["shoe.png", "bag.jpg"]
        if command == "caption":
            assert [line.split("\t")[0] for line in lines] == ["scene1.png", "scene2.png", "scene.png"]
            assert all(line.count("\t") == 1 for line in lines)  # path, caption (the tiny model's may be empty)
        if command == "ask":
            assert len(lines) == 2


def test_the_readme_python_runs_as_written(inputs):
    """The Python blocks in order, in one interpreter in the project (a block may use what an earlier one imported),
    then the calls the README quotes in its text."""
    project, _ = inputs
    text = README.read_text()
    captioner = re.search(r"`(visionops\.captioning\.runtime\.load_ort_captioner\([^`]*\))\.caption\(images\)`", text)
    vqa = re.search(r"`visionops\.vqa\.runtime\.load_ort_vqa\(path\)\.answer\(images, questions\)`", text)
    registered = re.search(r'`(mlflow\.pyfunc\.load_model\("models:/visionops-captioner@champion"\))\.predict', text)
    assert captioner and vqa and registered
    checks = f"""
import json, visionops.captioning.runtime, visionops.vqa.runtime
images_generated = images.shape
images = np.load("data/scenes/test.npz")["images"][:2].astype(np.float32) / 255
captions = {captioner.group(1)}.caption(images)
answers, probabilities = visionops.vqa.runtime.load_ort_vqa("data/models/film/vqa.onnx").answer(
    images, ["is there a bag?", "how many items are there?"])
mlflow.set_registry_uri(mlflow.get_tracking_uri())
registered = {registered.group(1).replace("@champion", "@tiny")}.predict(images)  # tiny never promotes
print(json.dumps({{
    "logits": logits.shape, "classes": len(classes), "images": images_generated, "class_map": class_map.shape,
    "masks": masks.shape, "captions": captions, "registered": list(registered), "answers": answers,
    "pipeline_runs": len(runs), "columns": list(runs.columns),
}}))
"""
    script = "\n".join(readme_blocks("python"))
    result = subprocess.run(
        [sys.executable, "-c", f"{script}\n{checks}"], cwd=project, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["logits"] == [8, 10] and found["classes"] == 10
    assert found["images"] == [8, 1, 28, 28] and found["class_map"] == [4, 64, 64]
    assert found["masks"][1:] == [1, 64, 64]
    assert len(found["captions"]) == 2 and all(isinstance(c, str) for c in found["captions"])  # tiny: maybe ""
    assert found["registered"] == found["captions"]  # the registered captioner answers as its files do
    assert len(found["answers"]) == 2
    assert found["pipeline_runs"] >= 1
    assert {"metrics.classifier/standard_test_accuracy", "metrics.vqa/film_test_accuracy"} <= set(found["columns"])
