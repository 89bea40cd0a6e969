"""Entry point of the worker: `sweep_worker.handler.handler(event, context)`, on Lambda and locally.

Wiring only: the store, registry and secrets are built once per cold start; the work is in
`sweep_worker.runner`."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sweep_contracts import environment
from sweep_contracts.binding import ENDPOINTS_SUFFIX, BoundSecret, local_binding
from sweep_contracts.errors import SecretUnavailableError
from sweep_contracts.experiments import Registry
from sweep_contracts.storage import LocalStore, ObjectStore
from sweep_worker import logs
from sweep_worker.runner import Secrets, WorkerDeps, process_event

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

    from sweep_aws.ssm import SsmSecrets

# sweep_aws (boto3, the SSM provider) is imported when a cold start needs it (an S3 store, SSM secrets),
# not with this module: a local pool process never does (tests/functional/test_cold_start.py), and a local-only
# install has no sweepkit-aws at all (the `aws` extra of sweepkit-worker, issue 23).

logger = logs.configure()


def environment_secrets(names: Sequence[str]) -> Mapping[str, str]:
    """Local runs: secret `api_key` is the environment variable `SWEEP_SECRET_API_KEY`, bound to
    the endpoints in `SWEEP_SECRET_API_KEY_ENDPOINTS` (else loopback only: `sweep_contracts.binding`)."""
    missing = [n for n in names if environment.SECRET_PREFIX + n.upper() not in os.environ]
    if missing:
        variables = ", ".join(environment.SECRET_PREFIX + n.upper() for n in missing)
        error = SecretUnavailableError(
            f"the experiment needs {', '.join(missing)}, and {variables} is not set.",
            field="secrets",
            value=missing,
            hint=f"set {variables} in the environment of `sweep run`.",
        )
        error.not_set = True
        raise error
    found: dict[str, str] = {}
    for n in names:
        try:
            binding = local_binding(n, os.environ, environment.SECRET_PREFIX)
        except ValidationError as exc:
            variable = environment.SECRET_PREFIX + n.upper() + ENDPOINTS_SUFFIX
            reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            raise SecretUnavailableError(
                f"{variable} lists an endpoint a key may not go to: {reason}.",
                field=variable,
                value=os.environ.get(variable),
                hint=f"list `https://host[:port]` or loopback `http://127.0.0.1:port` endpoints in {variable}.",
            ) from None
        found[n] = BoundSecret(os.environ[environment.SECRET_PREFIX + n.upper()], n, binding)
    return found


@functools.cache
def deps_from_environment() -> WorkerDeps:
    """`SWEEP_STORE` says where results go; with `SWEEP_PARAMETER_PREFIX` (on Lambda), experiment
    secrets come from SSM SecureString parameters, else from `SWEEP_SECRET_*` variables."""
    store = _open_store(os.environ.get(environment.STORE))
    prefix = os.environ.get(environment.PARAMETER_PREFIX)
    secrets: Secrets = ssm_secrets(prefix) if prefix else environment_secrets
    return WorkerDeps(store=store, registry=Registry.on_demand(), secrets=secrets)


def _open_store(uri: str | None) -> ObjectStore:
    """A local directory without sweep_aws (a local pool); anything else through it."""
    if uri and not uri.startswith("s3://"):
        return LocalStore(uri.removeprefix("file://"))
    from sweep_aws.environ import required
    from sweep_aws.stores import open_store

    return open_store(required(environment.STORE, "the worker does not know where to write results"))


def ssm_secrets(prefix: str, client: SSMClient | None = None) -> SsmSecrets:
    """The secrets of one cold start: its own client, patient with throttling at a fan-out, and a
    cache that the warm invocations of this environment share."""
    from sweep_aws.clients import ssm_secrets_client
    from sweep_aws.environ import settings_ttl
    from sweep_aws.ssm import SsmSecrets

    return SsmSecrets(prefix, client=client or ssm_secrets_client(), ttl_s=settings_ttl())


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Run the shard task in `event`; the time budget comes from the Lambda context when it has one."""
    logs.begin_invocation(context)
    try:
        return process_event(
            event,
            deps_from_environment(),
            remaining_ms=getattr(context, "get_remaining_time_in_millis", None),
            request_id=getattr(context, "aws_request_id", None),
        )
    finally:
        logs.end_invocation()


def reset() -> None:
    """Forget the cached dependencies (tests, and a local pool that changes its store)."""
    deps_from_environment.cache_clear()
