"""GANs (DCGAN, conditional GAN): networks, manual-optimization training with an EMA generator, ONNX export,
feature-space evaluation, figures, and `visionops sample` through onnxruntime."""
