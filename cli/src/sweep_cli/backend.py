"""Where a command's runs live and run: a local results directory or a deployed stage.

Each command that can work on either names a `backend: Backend` parameter and is decorated with
`with_backend`, which declares the options that choose it (`--out`, `--stage`, `--endpoint`,
`--region`) once for every command, checks them together and builds the backend before the
command's body runs. The body is then written once, against the protocol below."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from sweep_cli.app import DEFAULT_OUT, OutOption, WorkersOption
from sweep_cli.errors import UsageError
from sweep_contracts import environment

if TYPE_CHECKING:
    from sweep_cli.runs import Backend

StageOption = Annotated[
    str | None,
    typer.Option("--stage", "-s", envvar=environment.STAGE, help="A deployed stage (dev, prod): work there."),
]
EndpointOption = Annotated[
    str | None, typer.Option("--endpoint", help="The stage's API URL (its `api_url` output), instead of --stage.")
]
RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region", help="AWS region of the stage (default: SWEEP_REGION, else the stage's own, else AWS_REGION)."
    ),
]


@dataclass(frozen=True)
class BackendOptions:
    """The options that choose a backend, as the user gave them."""

    out: Path = DEFAULT_OUT
    stage: str | None = None
    endpoint: str | None = None
    region: str | None = None
    workers: int | None = None

    @property
    def on_stage(self) -> bool:
        return self.stage is not None or self.endpoint is not None

    def check(self) -> None:
        if self.region is not None and not self.on_stage:
            raise UsageError(
                f"--region {self.region} names the region of a deployed stage, but no stage was named.",
                field="--region",
                value=self.region,
                hint="add --stage NAME (or --endpoint URL) to work on a stage, or drop --region to work on "
                f"the results directory {self.out}.",
            )

    def backend(self) -> Backend:
        """The backend these options name; stage options are checked and resolved here, once."""
        self.check()
        if not self.on_stage:
            from sweep_cli.local.backend import LocalBackend

            return LocalBackend(self.out, self.workers)
        from sweep_cli.stage.backend import StageBackend
        from sweep_cli.stage.remote import StageClient
        from sweep_cli.stage.resolve import resolve_stage

        return StageBackend(StageClient(resolve_stage(self.stage, self.endpoint, self.region)), self.out)


F = TypeVar("F", bound=Callable[..., Any])
_STAGE_PARAMETERS = {"stage": StageOption, "endpoint": EndpointOption, "region": RegionOption}


def with_backend(*, local: bool = True, workers: bool = False, stage_only: str = "") -> Callable[[F], F]:
    """Replace the command's `backend` parameter by the options that choose it, and pass the
    backend in (entered as a context manager for the command's duration).

    `local=False`: the command works on a stage only: it has no --out, and without a stage it
    fails with `stage_only` as the message. `workers=True`: it runs shards here, so --workers."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn, eval_str=True)
        own = [p for name, p in signature.parameters.items() if name != "backend"]
        added: dict[str, Any] = {}
        if local:
            added["out"] = (OutOption, DEFAULT_OUT)
        if workers:
            added["workers"] = (WorkersOption, None)
        added |= {name: (annotation, None) for name, annotation in _STAGE_PARAMETERS.items()}
        options = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
            for name, (annotation, default) in added.items()
        ]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            chosen = BackendOptions(**{name: kwargs.pop(name) for name in added})
            if not local and not chosen.on_stage:
                raise UsageError(
                    stage_only,
                    field="--stage",
                    hint="name one with --stage dev (or --endpoint URL); to run here, use `sweep run`.",
                )
            with chosen.backend() as backend:
                return fn(*args, backend=backend, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=[*own, *options])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in [*own, *options]}
        return wrapper  # type: ignore[return-value]

    return decorate
