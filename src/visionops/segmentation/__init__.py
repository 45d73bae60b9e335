"""The segmenters: the deconvolution network and FCN-8s on the cluttered scenes."""
