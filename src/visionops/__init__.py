"""visionops: a computer-vision lab run as a reproducible pipeline (DVC, Prefect, Lightning, MLflow, ONNX)."""

__version__ = "0.1.0"
