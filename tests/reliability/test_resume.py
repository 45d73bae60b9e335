"""kill -9 in the middle of each family's training stage, then the same command again: it resumes from the last
epoch's checkpoint, finishes, and lands where an uninterrupted run of the same params does (within 0.5 points)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

# (stage module, model name, params section, its extra overrides, the outputs' file name, the metric compared)
FAMILIES = {
    "classifier": ("train", "standard", "classifier", {"limit_train_batches": 150}, "classifier.pt", "test_acc_torch"),
    # no quality figure in a GAN's train.json, and the tiny EMA generator barely moves from its start in 120 steps:
    # both players' last-epoch losses, which follow the whole trajectory, are compared
    "gan": ("gan_train", "dcgan", "gan", {"limit_train_batches": 40}, "generator.pt",
            ("d_loss_last_epoch", "g_loss_last_epoch")),
    # batch 8 and a wider LSTM: on a CPU with native bf16 the tiny budget's 13 batches of 32 made an epoch so
    # short that the run finished before the kill
    "captioner": ("caption_train", "show_tell", "captioner",
                  {"limit_train_batches": 30, "batch_size": 8, "hidden_dim": 128}, "captioner.pt", "val_word_acc"),
    "segmenter": ("segment_train", "deconvnet", "segmenter", {"width": 16, "batch_size": 8, "limit_train_batches": 25},
                  "segmenter.pt", "val_miou"),
    "vqa": ("vqa_train", "film", "vqa", {"scratch_width": 16, "film_channels": 32, "hidden_dim": 64, "batch_size": 8,
                                         "limit_train_batches": 60}, "vqa.pt", "val_acc"),
    "detector": ("detect_train", "maskrcnn", "detector", {"limit_train_batches": 25}, "detector.pt", "val_box_map50"),
}  # fmt: skip


def _command(project: Path, family: str, out: Path, params: Path) -> list[str]:
    module, name, section, _, model_file, _ = FAMILIES[family]
    scenes = {
        "captioner": "data/scenes", "segmenter": "data/cluttered_scenes", "vqa": "data/scenes",
        "detector": "data/cluttered_scenes",
    }.get(family)  # fmt: skip
    data = (
        ["--scenes", scenes, "--classifier", "data/models/standard/classifier.pt"]
        if scenes
        else ["--data", "data/prepared"]
    )
    extra = {"gan": ["--samples", str(out / "samples.png")], "vqa": ["--questions", "data/questions"]}.get(family, [])
    return [
        sys.executable, "-m", f"visionops.stages.{module}", "--params", str(params), "--name", name,
        "--section", section, *data, "--checkpoints", str(out / "checkpoints"), "--model", str(out / model_file),
        "--metrics", str(out / "train.json"), *extra,
    ]  # fmt: skip


def _params(project: Path, family: str) -> Path:
    """The project's params with three epochs and longer ones for this family, beside params.yaml (the stage
    finds its project from there)."""
    raw = yaml.safe_load((project / "params.yaml").read_text())
    _, _, section, extra, _, _ = FAMILIES[family]
    raw[section].update({"epochs": 3, **extra})
    path = project / f"params.resume-{family}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("family", FAMILIES)
def test_killed_training_resumes_and_lands_where_an_uninterrupted_run_does(tiny_pipeline, tmp_path, family):
    project, _ = tiny_pipeline
    params = _params(project, family)
    # one thread: on a CPU without native bf16 the VQA trainer runs in fp32, and two uninterrupted runs of it on two
    # threads ended 1.7 points apart on this tiny validation set, noise that would hide what is checked here
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "OMP_NUM_THREADS": "1", "VISIONOPS_THREADS": "1"}
    # the uninterrupted run trains beside the killed one and its resume: one thread each, so neither result depends
    # on the other, and the case takes about one run's time instead of two
    whole_log = (tmp_path / "whole.log").open("w")  # a file, not a pipe nobody reads until the end
    whole = subprocess.Popen(
        _command(project, family, tmp_path / "whole", params), cwd=project, stdout=whole_log, stderr=whole_log,
        env=env,
    )  # fmt: skip
    try:
        killed_out = tmp_path / "killed"
        victim = subprocess.Popen(
            _command(project, family, killed_out, params), cwd=project, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 600
        while not (killed_out / "checkpoints" / "last.ckpt").exists():  # the first epoch is done
            assert victim.poll() is None, "finished before it could be killed mid-run"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.5)  # into the second epoch
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=60)
        assert not (killed_out / "train.json").exists()

        again = subprocess.run(
            _command(project, family, killed_out, params), cwd=project, capture_output=True, text=True,
            timeout=600, env=env,
        )  # fmt: skip
        assert again.returncode == 0, again.stderr[-3000:]
        assert whole.wait(timeout=600) == 0, (tmp_path / "whole.log").read_text()[-3000:]
    finally:
        whole.kill()
        whole.wait()
        whole_log.close()
        params.unlink()
    metric = FAMILIES[family][5]
    first, resumed = (json.loads((tmp_path / d / "train.json").read_text()) for d in ("whole", "killed"))
    assert resumed["epochs"] == first["epochs"] == 3
    assert re.search(r"epoch 3/3", again.stdout) and not re.search(r"epoch 1/3", again.stdout)  # it resumed
    if isinstance(metric, tuple):  # losses: each within 0.1% (when a resume still drew the first epochs' batch
        for loss in metric:  # orders again, the GAN ended 2.2% away in d_loss and 0.8% in g_loss)
            assert abs(resumed[loss] - first[loss]) <= 0.001 * abs(first[loss]), (loss, resumed[loss], first[loss])
    else:
        assert abs(resumed[metric] - first[metric]) <= 0.005, (metric, resumed[metric], first[metric])
