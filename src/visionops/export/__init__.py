"""Export to ONNX: the fp32 model with a dynamic batch, its parity check, and INT8 static quantisation."""
