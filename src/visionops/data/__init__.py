"""Datasets: fetching and verifying raw files, parsing IDX, preparing uint8 tensors, device-resident batches."""
