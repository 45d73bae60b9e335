"""`visionops attack`: writes an adversarial PNG within eps of the input and prints both predictions."""

import subprocess
import sys

import numpy as np
from PIL import Image


def _attack(project, *args):
    return subprocess.run(
        [sys.executable, "-m", "visionops.cli", "attack", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_attack_writes_an_image_within_eps_that_changes_the_prediction(project, tmp_path, idx_arrays, untrained_models):
    untrained_models(project)
    image = tmp_path / "item.png"
    Image.fromarray(idx_arrays(10, 10)["t10k-images-idx3-ubyte"][3]).save(image)
    out = tmp_path / "adv.png"
    result = _attack(project, str(image), "--eps", "0.3", "--model", "robust", "--out", str(out))
    assert result.returncode == 0, result.stderr
    clean = result.stdout.splitlines()[0].split()[1]
    adversarial = result.stdout.splitlines()[1].split()[1]
    assert clean != adversarial  # an untrained LeNet is anything but robust at eps 0.3
    before = np.asarray(Image.open(image), dtype=np.int16)
    after = np.asarray(Image.open(out), dtype=np.int16)
    assert after.shape == (28, 28) and 0 < np.abs(after - before).max() <= round(0.3 * 255)


def test_attack_refuses_bad_arguments_in_one_line(project, tmp_path, idx_arrays, untrained_models):
    untrained_models(project)
    image = tmp_path / "item.png"
    Image.fromarray(idx_arrays(10, 10)["t10k-images-idx3-ubyte"][0]).save(image)
    for args, message in (
        (["--eps", "1.5"], "--eps 1.5 is outside [0, 1]"),
        (["--steps", "0"], "PGD needs at least one step"),
        (["--label", "zebra"], "--label 'zebra' is not a class of this model"),
    ):
        result = _attack(project, str(image), *args)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr
    assert not list(project.glob("item.adv_*"))
