"""Training loops: the Lightning module and data module, and the fit function the train stage calls."""
