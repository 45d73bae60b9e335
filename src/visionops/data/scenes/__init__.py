"""Composed scenes: Fashion-MNIST items on a 2x2 canvas, with captions, boxes, masks and exact ground truth."""
