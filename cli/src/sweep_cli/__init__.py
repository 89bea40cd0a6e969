"""The `sweep` command: run sweeps locally, query their results, drive a deployed stage."""
