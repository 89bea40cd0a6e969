"""The preflight's price check: the stage's `price_*_nusd` settings are for the region it deploys to.

The cost estimates (`sweep plan --stage`, `POST /runs`) and the `max_run_cost_usd` cap use those
settings, whose defaults are us-east-1's list prices (`sweep_contracts.prices`). A stage in another
region says whose prices its settings hold with `sweep:pricesRegion` in `Pulumi.<stage>.yaml`, once
it has set them (or checked that its region charges the same): until then its estimates would be
us-east-1's without a word, so the preflight refuses (issue 23, item 15).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEFAULT_PRICES_REGION = "us-east-1"
PRICES_REGION_KEY = "sweep:pricesRegion"


def price_region_problem(root: Path, stage: str) -> str | None:
    """What is wrong with the stage's prices for its region, or None when they are its region's."""
    path = root / f"Pulumi.{stage}.yaml"
    config: dict[str, Any] = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    region = str(config.get("aws:region") or DEFAULT_PRICES_REGION)
    priced = str(config.get(PRICES_REGION_KEY) or DEFAULT_PRICES_REGION)
    if region == priced:
        return None
    prices = sorted(name for name in (config.get("sweep:settings") or {}) if str(name).startswith("price_"))
    return (
        f"{path.name} deploys to {region}, but its prices ({', '.join(prices) or 'the price_*_nusd defaults'}) are "
        f"{priced}'s: the run estimates and `max_run_cost_usd` would use them. Set each `price_*_nusd` under "
        f"`sweep:settings` to {region}'s list price in nano-USD (libs/sweep_contracts/src/sweep_contracts/prices.py "
        f"cites the pricing pages), then say so: `pulumi config set {PRICES_REGION_KEY} {region} --stack {stage}`."
    )
