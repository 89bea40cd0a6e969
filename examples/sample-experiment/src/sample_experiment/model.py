"""The heavy part: imported by the worker only when a point runs."""

from __future__ import annotations

import cowsay  # the runtime dependency sweep's own lock does not have

from sample_experiment import SampleConfig


def run(config: SampleConfig) -> dict[str, float]:
    text = cowsay.get_output_string("cow", " ".join(["moo"] * config.words))
    return {"lines": float(text.count("\n") + 1), "chars": float(len(text))}
