"""visionops: a computer-vision lab run as a reproducible pipeline (DVC, Prefect, Lightning, MLflow, ONNX).

One package per model family (classifier, robustness, gan, captioning), the data they share (data), what every
family uses (core), and the entry points: cli, and stages (one per DVC stage)."""
