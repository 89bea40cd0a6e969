"""Adaptive search from the command line: the local rounds (`run`), what a search shows on the
terminal (`view`), its plan (`plan`) and its HTML page (`page`)."""
