"""Generative models: sample-quality metrics and figures."""
