"""Bad input to a stage ends in one line and exit status 2, with nothing half-written left in data/."""

import gzip
import subprocess
import sys

import pytest

from visionops.data.idx import encode_idx


def _stage(project, name, *args, env=None):
    import os

    return subprocess.run(
        [sys.executable, "-m", f"visionops.stages.{name}", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def _one_error_line(result):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_fetch_refuses_a_mirror_whose_bytes_do_not_match_the_pinned_checksums(project, tmp_path, idx_arrays):
    mirror = tmp_path / "fake-mirror"
    mirror.mkdir()
    for name, array in idx_arrays().items():
        (mirror / f"{name}.gz").write_bytes(gzip.compress(encode_idx(array)))
    line = _one_error_line(_stage(project, "fetch", "--out", "data/raw", env={"VISIONOPS_FMNIST_DIR": str(mirror)}))
    assert "SHA-256 of the decompressed bytes" in line and "fake-mirror" in line
    assert not (project / "data" / "raw").exists()
    assert not any(p.name.startswith(".raw") for p in (project / "data").iterdir())


@pytest.mark.parametrize("damage", ["truncate", "magic"])
def test_prepare_refuses_a_corrupt_idx_file(project, damage, idx_arrays):
    raw = project / "data" / "raw"
    raw.mkdir(parents=True)
    for name, array in idx_arrays().items():
        (raw / name).write_bytes(encode_idx(array))
    target = raw / "train-images-idx3-ubyte"
    data = target.read_bytes()
    target.write_bytes(data[:-1000] if damage == "truncate" else b"\x00\x00\x09\x03" + data[4:])
    line = _one_error_line(_stage(project, "prepare", "--raw", "data/raw", "--out", "data/prepared"))
    assert "train-images-idx3-ubyte" in line
    assert not (project / "data" / "prepared").exists()


def test_unknown_param_stops_a_stage_before_it_writes(project):
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("  val_fraction: 0.1", "  val_fraction: 0.1\n  val_fractoin: 0.2"))
    line = _one_error_line(_stage(project, "fetch", "--out", "data/raw"))
    assert "unknown key 'data.val_fractoin'" in line
    assert not (project / "data" / "raw").exists()


def test_out_of_range_param_from_the_cli_leaves_params_untouched(project):
    before = (project / "params.yaml").read_text()
    result = subprocess.run(
        [sys.executable, "-m", "visionops.cli", "run", "-S", "classifier.lr=-1"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    line = _one_error_line(result)
    assert "classifier.lr: Input should be greater than 0" in line
    assert (project / "params.yaml").read_text() == before


def test_mnist_switch_fetches_from_the_mnist_mirror_with_its_own_checksums(project, tmp_path, idx_arrays):
    from visionops import params as project_params

    mirror = tmp_path / "mnist-mirror"
    mirror.mkdir()
    for name, array in idx_arrays().items():
        (mirror / f"{name}.gz").write_bytes(gzip.compress(encode_idx(array)))
    project_params.apply_overrides(project / "params.yaml", {"data.dataset": "mnist"})
    line = _one_error_line(_stage(project, "fetch", "--out", "data/raw", env={"VISIONOPS_MNIST_DIR": str(mirror)}))
    assert (
        "mnist-mirror" in line and "expected ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db" in line
    )


def test_a_failed_sanity_check_fails_the_robustness_stage_and_writes_nothing(project, idx_arrays, untrained_models):
    from visionops import params as project_params

    raw = project / "data" / "raw"
    raw.mkdir(parents=True)
    for name, array in idx_arrays().items():
        (raw / name).write_bytes(encode_idx(array))
    assert _stage(project, "prepare", "--raw", "data/raw", "--out", "data/prepared").returncode == 0
    folders = [str(f.relative_to(project)) for f in untrained_models(project)]
    # demand zero accuracy at an eps too small to reach it: the large-eps check must fail
    project_params.apply_overrides(
        project / "params.yaml", {"robustness.large_eps": 0.01, "robustness.large_eps_max_accuracy": 0.0}
    )
    result = _stage(
        project,
        "robustness",
        "--models",
        *folders,
        "--data",
        "data/prepared",
        "--out",
        "reports/robustness",
        "--metrics",
        "reports/robustness.json",
    )
    line = _one_error_line(result)
    assert "robustness sanity check failed" in line and "large_eps_near_zero" in line and "at eps 0.01" in line
    assert not (project / "reports" / "robustness").exists() and not (project / "reports" / "robustness.json").exists()


def test_the_gpu_budget_without_a_gpu_is_refused_and_params_stay_as_they_were(project):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the gpu budget would run")
    before = (project / "params.yaml").read_bytes()
    refused = subprocess.run(
        [sys.executable, "-m", "visionops.cli", "run", "--budget", "gpu"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = _one_error_line(refused)
    assert "no CUDA GPU" in line and "--force" in line and "cores" in line
    assert (project / "params.yaml").read_bytes() == before
