"""Captioning (Show and Tell; Show, Attend and Tell): vocabulary, networks, training, the ONNX pair, decoding (greedy
and beam, over torch or onnxruntime), metrics, figures, the registered pyfunc model and `visionops caption`."""
