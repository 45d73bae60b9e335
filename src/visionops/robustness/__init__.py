"""Adversarial examples under an L-infinity budget in pixel space [0, 1], and the checks that keep them honest."""
