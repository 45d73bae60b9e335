"""onnxruntime sessions tuned for the cores at hand, and the class names a model carries. No torch needed here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from visionops.core.errors import UserError

CLASSES_KEY = "visionops.classes"
# a classifier's threshold on ood_score below which an input is unlike its training data (the export stage sets it)
OOD_KEY = "visionops.ood_threshold"


def available_cores() -> int:
    """The cores this process may use: its share when a pipeline worker runs it (VISIONOPS_THREADS), else all."""
    from visionops.core.runtime import THREADS_ENV

    if os.environ.get(THREADS_ENV, "").isdigit() and int(os.environ[THREADS_ENV]) > 0:
        return int(os.environ[THREADS_ENV])
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def session(
    model: str | Path, threads: int = 0, missing_hint: str = "run the export stage first (dvc repro export)"
) -> onnxruntime.InferenceSession:  # noqa: F821
    """An ORT session with explicit thread counts and no spinning, which would steal the cores from torch."""
    import onnxruntime as ort

    path = Path(model)
    if threads < 0:
        raise UserError(f"--threads {threads}: give a number of threads >= 1, or 0 for one per core")
    if path.is_dir():
        raise UserError(f"{path} is a folder; give the .onnx file")
    if not path.is_file():
        raise UserError(f"{path} is missing; {missing_hint}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or available_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # errors only: the detector's mask pasting loop makes ORT warn on every scene that its shape inference guessed
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
        raise UserError(
            f"{path} is not a loadable ONNX model ({str(exc).splitlines()[0]}); run dvc repro export -f"
        ) from None


def class_names(sess: onnxruntime.InferenceSession) -> list[str]:  # noqa: F821
    meta = sess.get_modelmeta().custom_metadata_map
    return json.loads(meta[CLASSES_KEY]) if CLASSES_KEY in meta else []


def ood_threshold(sess: onnxruntime.InferenceSession) -> float | None:  # noqa: F821
    meta = sess.get_modelmeta().custom_metadata_map
    return float(meta[OOD_KEY]) if OOD_KEY in meta else None


def ood_score(logits: np.ndarray) -> np.ndarray:
    """The negative free energy of each row of logits [N, K], log-sum-exp (Liu et al., 2020): low for inputs unlike
    the training data. It caught more of the unlike inputs than the top softmax probability at the same false-alarm
    rate (README, "Using the exported model")."""
    top = logits.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits [N, K]."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
