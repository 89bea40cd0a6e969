"""Deploys one stage of sweep: `pulumi up --stack dev`. Wiring only; the components are in
pulumi/src/sweep_infra (no `__init__.py` here: a `pulumi` package would hide the Pulumi SDK)."""

import pulumi

from sweep_infra.config import load_config
from sweep_infra.errors import InfraError
from sweep_infra.functions import artifacts
from sweep_infra.stack import SweepStack

try:
    config = load_config()
    built = artifacts(config.artifacts_dir, config.experiment_packages)
except (InfraError, FileNotFoundError) as exc:
    raise pulumi.RunError(str(exc)) from None

stack = SweepStack("sweep", config, built)
for name, value in stack.outputs.items():
    pulumi.export(name, value)
