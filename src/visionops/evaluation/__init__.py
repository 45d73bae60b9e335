"""Judging a model: metrics of the shipped ONNX artifact, plots, and maps of what the network looks at."""
