"""Datasets: sources and pinned checksums, fetch, IDX, image folders, the prepared uint8 tensors; scenes/ composes
scenes from them for every family that reads scenes."""
