"""The classifiers (LeNet-5, ResNet): networks, training, ONNX export, evaluation through onnxruntime, what the
network looks at, the robustness stage over them, `visionops predict` and `visionops attack`."""
