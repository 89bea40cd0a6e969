"""Imported only by the local pool's fork server (see `_pool.PRELOAD`): it loads the experiments
once, so every pool process forked from it, and every replacement of one that died, starts warm."""

from __future__ import annotations

from sweep_cli.local._pool import warm_up

warm_up()
