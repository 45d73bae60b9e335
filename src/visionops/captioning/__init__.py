"""Captioning: vocabulary, decoding (greedy and beam, over torch or onnxruntime), metrics and figures."""
