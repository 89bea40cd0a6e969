"""Built-in sweep experiments, registered under the `sweep.experiments` entry point group."""
