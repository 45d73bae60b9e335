"""The Prefect side: the pipeline flow (one task per DVC stage) and its schedule."""
