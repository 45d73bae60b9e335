"""One thin entry point per DVC stage: parse the paths dvc.yaml passes, start (params view, environment), and make
one call into the stage's family. Each runs as `python -m visionops.stages.<name>`."""
