"""What `make preview` / `make deploy STACK=<stage>` check before Pulumi starts, each failure with
the fix instead of a traceback halfway through a deployment:

- the Pulumi CLI is on PATH and logged in to a backend (a self-managed one needs a passphrase);
- `uv` is on the PATH Pulumi gets (`toolchain: uv` looks it up on PATH only);
- AWS credentials work (`sts:GetCallerIdentity`);
- the stage's reserved concurrency fits the account (`lambda:GetAccountSettings`): Lambda refuses a
  reservation that leaves fewer than 100 unreserved executions, and new accounts often have a
  concurrency quota far below the default 1,000.

    uv run python -m sweep_infra.preflight --stack dev
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sweep_infra.errors import PreflightError

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_lambda import LambdaClient

INVOKE_RATE_PER_QUOTA = 10  # invocation requests per second per unit of concurrency quota
MIN_UNRESERVED = 100  # Lambda keeps at least this many executions unreserved per account and region
DEFAULT_QUOTA = 1_000
QUOTA_CODE = "L-B99A9384"  # Service Quotas: AWS Lambda, Concurrent executions
SELF_MANAGED = ("file://", "s3://", "gs://", "azblob://")
INSTALL_PULUMI = (
    "install it with `curl -fsSL https://get.pulumi.com | sh` (or see https://www.pulumi.com/docs/install/), "
    "open a new shell, then log in to a backend: `pulumi login`, `pulumi login s3://<bucket>` or "
    "`pulumi login --local`."
)


@dataclass(frozen=True)
class Reservation:
    function: str
    wanted: int


def check_tools(path: str, environ: Mapping[str, str], run: Any = subprocess.run) -> list[str]:
    """The Pulumi CLI and uv on `path`, and Pulumi's backend; returns what was found."""
    pulumi = shutil.which("pulumi", path=path)
    if pulumi is None:
        beside = Path.home() / ".pulumi" / "bin" / "pulumi"
        where = f" ({beside} exists: add {beside.parent} to PATH)" if beside.is_file() else ""
        raise PreflightError(f"the Pulumi CLI is not on PATH{where}: {INSTALL_PULUMI}")
    uv = shutil.which("uv", path=path)
    if uv is None:
        raise PreflightError(
            "`uv` is not on PATH, and Pulumi runs the program with the uv it finds there (Pulumi.yaml: "
            "`toolchain: uv`): run `make preview` / `make deploy`, which put the uv of `make install` on PATH."
        )
    answer = run([pulumi, "whoami", "--json"], capture_output=True, text=True, timeout=60, check=False, env=environ)
    if answer.returncode != 0:
        last = (answer.stderr.strip().splitlines() or ["?"])[-1]
        raise PreflightError(
            f"`pulumi whoami` failed ({last}): log in to a backend first: `pulumi login` (Pulumi Cloud), "
            "`pulumi login s3://<bucket>` or `pulumi login --local`."
        )
    backend = str(json.loads(answer.stdout or "{}").get("url", ""))
    found = [f"Pulumi CLI {pulumi}, backend {backend or '?'}", f"uv {uv}"]
    passphrase = environ.get("PULUMI_CONFIG_PASSPHRASE") is not None or environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if backend.startswith(SELF_MANAGED) and not passphrase:
        raise PreflightError(
            f"the backend {backend} is self-managed: Pulumi encrypts the stack's secrets with a passphrase, and "
            "`pulumi up` and `pulumi stack output` (which the sweep CLI runs to find the endpoint) stop without "
            "it. Fix: export PULUMI_CONFIG_PASSPHRASE=<passphrase> (or PULUMI_CONFIG_PASSPHRASE_FILE=<file>)."
        )
    return found


def check_credentials(session: boto3.Session) -> str:
    """The account the credentials belong to."""
    from botocore.exceptions import BotoCoreError, ClientError

    if session.get_credentials() is None:
        raise PreflightError(
            "no AWS credentials found: run `aws configure`, or `aws sso login --profile <name>` and "
            "`export AWS_PROFILE=<name>`, then try again."
        )
    try:
        account: str = session.client("sts").get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as exc:
        raise PreflightError(
            f"the AWS credentials do not work ({exc}): refresh them (`aws sso login`, or new access keys) "
            "and try again."
        ) from None
    return account


def stage_reservations(root: Path, stage: str) -> tuple[str, list[Reservation]]:
    """The stage's region and the reservations its stack config asks for."""
    path = root / f"Pulumi.{stage}.yaml"
    if not path.is_file():
        stacks = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml"))
        raise PreflightError(f"there is no {path.name} in {root}: the stacks are {stacks}.")
    config: dict[str, Any] = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    wanted = [
        Reservation(f"sweep-{stage}-{role}", int(config[f"sweep:{role}"]["reservedConcurrency"]))
        for role in ("orchestrator", "worker")
        if (config.get(f"sweep:{role}") or {}).get("reservedConcurrency") is not None
    ]
    return str(config.get("aws:region") or "us-east-1"), wanted


def check_concurrency(client: LambdaClient, stage: str, region: str, wanted: list[Reservation]) -> str:
    """Whether the stage's reservations fit the account's quota; what the stage may run at once."""
    limits = client.get_account_settings()["AccountLimit"]
    quota, unreserved = int(limits.get("ConcurrentExecutions", 0)), int(limits.get("UnreservedConcurrentExecutions", 0))
    held = sum(_reserved_now(client, r.function) for r in wanted)  # a redeploy gives these back first
    asked = sum(r.wanted for r in wanted)
    left = unreserved + held - asked
    account = f"the account's Lambda concurrency quota in {region} is {quota} ({unreserved} unreserved now)"
    increase = (
        f"ask for a higher quota: `aws service-quotas request-service-quota-increase --service-code lambda "
        f"--quota-code {QUOTA_CODE} --desired-value {DEFAULT_QUOTA} --region {region}`"
    )
    if wanted and left < MIN_UNRESERVED:
        names = ", ".join(f"{r.wanted} for {r.function}" for r in wanted)
        raise PreflightError(
            f"stage `{stage}` reserves {asked} executions ({names}), but {account}: Lambda keeps at least "
            f"{MIN_UNRESERVED} unreserved, so at most {max(0, unreserved + held - MIN_UNRESERVED)} can be reserved. "
            f"Fix: remove the reservation (`pulumi config rm --path --stack {stage} sweep:worker.reservedConcurrency`) "
            f"or lower it, or {increase}."
        )
    report = f"{account}; stage `{stage}` reserves {asked or 'none'}, leaving {left} unreserved"
    if quota < DEFAULT_QUOTA:
        report += f". At most {left} shards run at once on an unreserved worker; for more, {increase}"
    # Lambda's quotas page: invocation requests per second are capped at 10 x the concurrency quota.
    return (
        f"{report}. Lambda takes at most {INVOKE_RATE_PER_QUOTA * quota:,} invoke requests a second here "
        f"({INVOKE_RATE_PER_QUOTA} x the quota); a run's dispatchers slow down to it when throttled"
    )


def _reserved_now(client: LambdaClient, function: str) -> int:
    try:
        return int(client.get_function_concurrency(FunctionName=function).get("ReservedConcurrentExecutions") or 0)
    except client.exceptions.ResourceNotFoundException:
        return 0


def run_checks(stage: str, root: Path, environ: Mapping[str, str], session: boto3.Session | None = None) -> list[str]:
    """Every check in order; the first failure raises `PreflightError`."""
    import boto3

    found = check_tools(environ.get("PATH", ""), environ)
    region, wanted = stage_reservations(root, stage)
    session = session or boto3.Session(region_name=region)
    found.append(f"AWS account {check_credentials(session)}")
    found.append(check_concurrency(session.client("lambda", region_name=region), stage, region, wanted))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sweep_infra.preflight", description=__doc__.split("\n")[0])
    parser.add_argument("--stack", required=True, help="the stage: dev, prod, …")
    args = parser.parse_args(argv)
    from sweep_infra.packaging import repo_root

    try:
        for line in run_checks(args.stack, repo_root(), os.environ):
            print(f"ok: {line}")
    except PreflightError as exc:
        print(f"preflight: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
