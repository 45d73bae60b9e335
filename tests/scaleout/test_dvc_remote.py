"""A finished tiny run pushed to a DVC remote (a local folder), then a fresh clone that pulls it: nothing to rerun,
and the models answer."""

import gzip
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from visionops.data.sources import FASHION_MNIST

pytestmark = pytest.mark.slow


def test_a_fresh_clone_pulls_every_output_and_has_nothing_to_run(tiny_pipeline, tmp_path, run_command, real_mirror):
    from PIL import Image

    finished, _ = tiny_pipeline
    origin = tmp_path / "origin"  # a copy: the shared tiny project stays as the other tests expect it
    shutil.copytree(finished, origin, symlinks=True)
    remote = tmp_path / "remote"
    steps = [
        ["git", "add", "-A"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a finished tiny run"],
        [sys.executable, "-m", "dvc", "remote", "add", "-d", "store", str(remote)],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "a DVC remote"],
        [sys.executable, "-m", "dvc", "push"],
    ]
    for cmd in steps:
        done = run_command(cmd, origin)
        assert done.returncode == 0, (cmd, done.stdout[-2000:], done.stderr[-2000:])
    assert any(remote.rglob("*"))

    clone = tmp_path / "clone"
    assert run_command(["git", "clone", "-q", str(origin), str(clone)], tmp_path).returncode == 0
    assert not (clone / "data" / "models").exists()
    pulled = run_command([sys.executable, "-m", "dvc", "pull"], clone)
    assert pulled.returncode == 0, pulled.stdout[-2000:] + pulled.stderr[-2000:]
    status = run_command([sys.executable, "-m", "dvc", "status"], clone)
    assert status.returncode == 0 and "Data and pipelines are up to date." in status.stdout, status.stdout[-3000:]

    visionops = str(Path(sys.executable).parent / "visionops")
    again = run_command([visionops, "run"], clone)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "every stage is up to date" in again.stdout, again.stdout[-2000:] + again.stderr[-2000:]

    with gzip.open(real_mirror / "t10k-images-idx3-ubyte.gz") as images:
        first = np.frombuffer(images.read(16 + 28 * 28)[16:], np.uint8).reshape(28, 28)
    Image.fromarray(first).save(tmp_path / "ankle-boot.png")  # test image 0 is an ankle boot
    predicted = run_command([visionops, "predict", str(tmp_path / "ankle-boot.png")], clone)
    assert predicted.returncode == 0, predicted.stderr
    path, label, probability = predicted.stdout.strip().split("\t")
    assert path == str(tmp_path / "ankle-boot.png") and label in FASHION_MNIST.classes and 0 < float(probability) <= 1
