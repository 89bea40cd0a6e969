"""`sweep try`: one point of a sweep, in the foreground, in this process.

Nothing is planned onto a pool and nothing is written: the point's effective config is validated and
the experiment runs right here, so its output, its traceback and a debugger (`breakpoint()`, or
`python -m pdb -m sweep_cli.main try …`) reach the terminal unchanged."""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sweep_cli import render
from sweep_cli.app import EXIT_POINT_ERRORS, SetOption, SettingsOption, SweepFileArgument, app, handles_errors
from sweep_cli.errors import UsageError

if TYPE_CHECKING:  # the planner and the models wait for the command (`sweep --help` stays cheap)
    from sweep_contracts.manifest import RunManifest
    from sweep_contracts.points import PointSpace


@app.command(name="try")
@handles_errors
def try_point(
    file: SweepFileArgument,
    point: Annotated[int, typer.Option("--point", "-p", help="Index of the point to run (see `sweep plan`).")] = 0,
    overrides: SetOption = None,
    settings: SettingsOption = None,
    debug: Annotated[
        bool, typer.Option("--raise", help="Let the experiment's exception propagate (for a post-mortem debugger).")
    ] = False,
) -> None:
    """Run one point of a sweep here, in the foreground: its output and traceback on the terminal, nothing written."""
    from sweep_cli.files import load_settings
    from sweep_cli.local.engine import local_runtime
    from sweep_cli.overrides import sweep_request
    from sweep_contracts.points import PointSpace
    from sweep_orchestrator.submit import prepare

    effective = load_settings(settings)
    payload = sweep_request(file, overrides, None, effective.max_request_bytes)
    runtime, _ = local_runtime(Path("."), 1, effective)  # no pool starts and nothing is written
    manifest = prepare(payload, runtime)
    space = PointSpace(manifest.request, manifest.effective_config())
    if not 0 <= point < space.size:
        raise UsageError(
            f"--point {point} is outside this sweep's points 0..{space.size - 1}.",
            field="--point",
            value=point,
            limit=space.size - 1,
            hint="`sweep plan FILE` shows the points; give an index from 0 to the last.",
        )
    sweep_point = space.point(point)
    render.err.print(
        render.shown(
            f"point {point} ({sweep_point.series}, repeat {sweep_point.repeat}): "
            f"{json.dumps(space.effective_config(sweep_point))}"
        )
    )
    metrics, output = run_point(manifest, space, point, debug=debug)
    if output is not None:
        render.err.print(render.shown(f"output: {output}", lines=True))
    print(json.dumps(metrics, sort_keys=True))


def run_point(
    manifest: RunManifest, space: PointSpace, point: int, *, debug: bool = False
) -> tuple[dict[str, float], str | None]:
    """Evaluate one point here, as `sweep try` does (and `sweep plan --sample` to time points); a
    point that raises prints its traceback and exits 3, or with `debug` lets the exception through."""
    from sweep_contracts.experiments import Registry
    from sweep_worker.handler import environment_secrets  # the worker's imports only when a trial runs

    experiment = Registry.default().get(manifest.request.experiment)
    config = space.effective_config(space.point(point))

    secrets = environment_secrets(experiment.secrets) if experiment.secrets else None
    try:
        metrics, output, _ = experiment.evaluate_point(experiment.parse_config(config), secrets)
    except Exception:
        if debug:
            raise
        render.err.print(render.shown(traceback.format_exc().rstrip(), lines=True))
        render.err.print(f"point {point} raised: this is what an `error` row of the run would record.")
        raise typer.Exit(EXIT_POINT_ERRORS) from None
    return metrics, output
