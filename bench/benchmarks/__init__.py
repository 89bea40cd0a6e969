"""One module per benchmark, each with its `BENCHMARK` (how to run it, and its headline); bench/run.py runs them."""
