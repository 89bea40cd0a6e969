"""The names sweep's packages are published under: one prefix, free on PyPI (issue 23).

`sweep` and `sweep-cli` on the public index are unrelated projects (`sweep-cli` deletes build
directories), and an installer that finds a higher version there takes it over ours: every
distribution of the workspace carries this prefix. The import packages keep their names.
"""

from __future__ import annotations

PREFIX = "sweepkit"

DISTRIBUTIONS: dict[str, str] = {
    "sweep_contracts": f"{PREFIX}-contracts",
    "sweep_experiments": f"{PREFIX}-experiments",
    "sweep_aws": f"{PREFIX}-aws",
    "sweep_orchestrator": f"{PREFIX}-orchestrator",
    "sweep_worker": f"{PREFIX}-worker",
    "sweep_cli": f"{PREFIX}-cli",
    "sweep": f"{PREFIX}-cli",
    "sweep_infra": f"{PREFIX}-infra",
}
"""Import package → the distribution that ships it."""

CONTRACTS = DISTRIBUTIONS["sweep_contracts"]
EXPERIMENTS = DISTRIBUTIONS["sweep_experiments"]
CLI = DISTRIBUTIONS["sweep_cli"]
