"""Shared fixtures: generated IDX data, mirrors and image folders, untrained models, a pre-migrated MLflow store,
throwaway projects, one Prefect harness per session.

Tests are grouped by family (core/, data/, classifier/, robustness/, gan/, captioning/) and pipeline/ for the
end-to-end paths; helpers reach tests only as fixtures defined here."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from visionops.data.idx import encode_idx
from visionops.data.sources import FASHION_MNIST, IdxSource

REPO = Path(__file__).resolve().parents[1]
REAL_MIRROR = Path(os.environ.get("VISIONOPS_FMNIST_DIR", "/usr/share/datasets/fashion-mnist"))
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def make_idx_arrays(n_train: int = 200, n_test: int = 50, classes: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Images whose class is visible (a bright bar at a class-dependent row), so a tiny model can learn them."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % classes
        images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 + 2 * label : 4 + 2 * label, 4:24] = 255
        arrays[f"{prefix}-images-idx3-ubyte"] = images
        arrays[f"{prefix}-labels-idx1-ubyte"] = labels.astype(np.uint8)
    return arrays


@pytest.fixture
def idx_mirror(tmp_path: Path) -> tuple[Path, IdxSource]:
    """A gzip mirror of a small generated IDX dataset, and a source that pins its checksums."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    sha = {}
    for name, array in make_idx_arrays().items():
        raw = encode_idx(array)
        sha[name] = hashlib.sha256(raw).hexdigest()
        (mirror / f"{name}.gz").write_bytes(gzip.compress(raw))
    source = IdxSource(
        name="generated",
        sha256=sha,
        urls=("http://127.0.0.1:9/",),  # the discard port: nothing listens, so downloads fail at once
        mirror_env="VISIONOPS_TEST_MIRROR",
        default_mirror=None,
        classes=tuple(f"c{i}" for i in range(10)),
    )
    return mirror, source


def write_image_folder(root: Path, per_class: int = 12, classes: int = 3, size: int = 28) -> Path:
    """A user-style image folder: root/{train,test}/<class>/*.png."""
    from PIL import Image

    arrays = make_idx_arrays(per_class * classes, per_class * classes, classes)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = arrays[f"{prefix}-images-idx3-ubyte"], arrays[f"{prefix}-labels-idx1-ubyte"]
        for i, (img, label) in enumerate(zip(images, labels, strict=True)):
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).resize((size, size)).save(folder / f"{i:04d}.png")
    return root


def write_untrained_models(project: Path, names: tuple[str, ...] = ("standard", "robust")) -> list[Path]:
    """Untrained LeNet-5 models, torch and ONNX, where the pipeline keeps them: data/models/<name>/."""
    from visionops.classifier.export import export_onnx
    from visionops.classifier.networks import build_network
    from visionops.core.model_file import save_model

    spec = {
        "network": "lenet5",
        "num_classes": 10,
        "in_channels": 1,
        "mean": 0.2,
        "std": 0.3,
        "resnet_widths": [8, 8, 8],
        "resnet_blocks": 1,
        "resnet_stem_pool": True,
    }
    folders = []
    for i, name in enumerate(names):
        folder = project / "data" / "models" / name
        folder.mkdir(parents=True)
        import torch

        torch.manual_seed(i)
        net = build_network(spec).eval()
        save_model(folder / "classifier.pt", spec, net.state_dict())
        export_onnx(
            net, folder / "classifier.onnx", image_shape=(1, 28, 28), classes=[f"c{k}" for k in range(10)], opset=18
        )
        folders.append(folder)
    return folders


@pytest.fixture(scope="session")
def migrated_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One MLflow SQLite store, migrated once per session; tests copy it (a fresh one per process is slow and racy)."""
    from mlflow import MlflowClient

    folder = tmp_path_factory.mktemp("mlflow")
    db = folder / "mlflow.db"
    MlflowClient(f"sqlite:///{db}").search_experiments()
    return db


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_project(root: Path, mlflow_db: Path) -> Path:
    """A copy of this project at `root` in a fresh git + DVC repo, with its own MLflow store and the tiny budget."""
    from visionops import params as project_params
    from visionops.core import config

    root.mkdir(parents=True)
    for item in ("dvc.yaml", "params.yaml", ".dvcignore", "prefect.yaml"):
        shutil.copy(REPO / item, root / item)
    for folder in ("pipelines", "src"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    shutil.copy(mlflow_db, root / "mlflow.db")
    params = project_params.load(root / "params.yaml")
    project_params.apply_overrides(root / "params.yaml", config.budget_overrides(params, "tiny"))
    git(root, "init", "-q")
    subprocess.run(["dvc", "init", "-q"], cwd=root, check=True)
    shutil.copy(REPO / ".dvc" / "config", root / ".dvc" / "config")  # analytics off, the offline plots page
    shutil.copytree(REPO / ".dvc" / "plots", root / ".dvc" / "plots")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "project")
    return root


@pytest.fixture(scope="session")
def project_factory(migrated_mlflow_db: Path):
    """make(root) -> a copy of this project at `root`, as the `project` fixture makes it (for session fixtures)."""
    return lambda root: make_project(root, migrated_mlflow_db)


@pytest.fixture
def project(tmp_path: Path, migrated_mlflow_db: Path) -> Path:
    """A copy of this project in a fresh git + DVC repo, with its own MLflow store and the tiny budget."""
    return make_project(tmp_path / "project", migrated_mlflow_db)


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory, migrated_mlflow_db: Path, prefect_harness, real_mirror):
    """One finished `visionops run` of the tiny budget on the real Fashion-MNIST, shared by the end-to-end tests:
    (its project, the flow's outcome). Tests that change the project run after those that only read it."""
    from pipelines.pipeline import pipeline

    root = make_project(tmp_path_factory.mktemp("tiny") / "project", migrated_mlflow_db)
    return root, pipeline(project_dir=str(root))


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect API for the whole session (each start migrates a database: seconds)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def run(cmd: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def idx_arrays():
    """make_idx_arrays(n_train, n_test, classes, seed): images whose class is visible, as IDX arrays."""
    return make_idx_arrays


@pytest.fixture(scope="session")
def image_folder():
    """write_image_folder(root, per_class, classes, size): a user-style image folder."""
    return write_image_folder


@pytest.fixture(scope="session")
def untrained_models():
    """write_untrained_models(project, names): untrained LeNet-5 files where the pipeline keeps its models."""
    return write_untrained_models


@pytest.fixture(scope="session")
def run_command():
    """run(cmd, cwd, timeout): a subprocess with DVC analytics off, output captured."""
    return run


@pytest.fixture(scope="session")
def real_mirror() -> Path:
    """The Fashion-MNIST mirror of the Debian package (or VISIONOPS_FMNIST_DIR); skips the test without it."""
    if not (REAL_MIRROR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("needs the dataset-fashion-mnist mirror")
    return REAL_MIRROR


def compose_scenes_of(items: np.ndarray, labels: np.ndarray, n: int, seed: int, heldout: bool = False, combos=None):
    from visionops.data.scenes.compose import choose_heldout, describe, render, sample_split

    rng = np.random.default_rng(seed)
    combos = choose_heldout(10, 8, 0) if combos is None else combos
    layouts = sample_split(
        n,
        item_labels=labels,
        n_classes=10,
        combos=combos,
        heldout=heldout,
        max_objects=3,
        small_prob=0.5,
        side=28,
        small_side=20,
        rng=rng,
    )
    images, masks, boxes = render(layouts, items, 20)
    return (
        layouts,
        images,
        masks,
        boxes,
        describe(
            layouts,
            boxes,
            classes=list(FASHION_MNIST.classes),
            captions_per_scene=5,
            size_prob=0.5,
            reading_order_prob=0.8,
            rng=rng,
        ),
    )


def item_bank_of(value: int, n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """n items of constant brightness `value` (so a scene shows which bank its items came from)."""
    return np.full((n, 1, 28, 28), value, np.uint8), np.arange(n) % 10


@pytest.fixture(scope="session")
def compose_scenes():
    """compose_scenes(items, labels, n, seed, heldout=False, combos=None) -> (layouts, images, masks, boxes,
    descriptions): scenes as the scenes stage composes them, of Fashion-MNIST's class names."""
    return compose_scenes_of


@pytest.fixture(scope="session")
def item_bank():
    """item_bank(value, n=50) -> (items, labels): n items of one constant brightness."""
    return item_bank_of
