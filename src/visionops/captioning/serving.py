"""The captioner pair in the MLflow registry: one pyfunc model whose artifacts are the two ONNX files and whose
`predict` decodes them with onnxruntime (images [N, C, H, W] float32 in [0, 1] -> captions).

It is logged from code (pyfunc_model.py, beside this file), not pickled: loading it runs the project's own files,
which travel with the model, and unpickles nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from mlflow.pyfunc import PythonModel  # imported only by the register stage and by MLflow loading the model


class CaptionerModel(PythonModel):
    def load_context(self, context: Any) -> None:
        from visionops.captioning.runtime import ort_captioner

        self.captioner = ort_captioner(Path(context.artifacts["encoder"]), Path(context.artifacts["decoder_step"]))

    def predict(self, context: Any, model_input: np.ndarray, params: dict[str, Any] | None = None) -> list[str]:
        return self.captioner.caption(np.asarray(model_input, dtype=np.float32))


def log_captioner(encoder: Path, step: Path, *, registered_name: str, example: np.ndarray, captions: list[str]) -> str:
    """Log the pair to the active run as a pyfunc model and register it; return its version (the existing one if
    this pair was registered before)."""
    import mlflow
    import onnxruntime
    from mlflow.models import infer_signature

    from visionops.core.promotion import files_digest, register, registered_version

    digest = files_digest(encoder, step)
    existing = registered_version(registered_name, digest)
    if existing is not None:
        return existing
    package = Path(__file__).resolve().parents[1]  # visionops itself travels with the model
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(Path(__file__).with_name("pyfunc_model.py")),
        artifacts={"encoder": str(encoder), "decoder_step": str(step)},
        code_paths=[str(package)],
        signature=infer_signature(example, np.array(captions)),
        pip_requirements=[f"onnxruntime=={onnxruntime.__version__}", f"numpy=={np.__version__}", "pillow"],
    )
    return register(info.model_uri, registered_name, digest)
