"""What every family shares: errors, atomic IO, runtime defaults, params loading, MLflow tracking, the registry and
its promotion rule, ONNX export and onnxruntime sessions, Lightning helpers, device-resident batches, figures."""
