"""What `make preview` / `make deploy STACK=<stage>` check before Pulumi starts, each failure with
the fix instead of a traceback halfway through a deployment:

- the Pulumi CLI is on PATH and logged in to a backend (a self-managed one needs a passphrase);
- `uv` is on the PATH Pulumi gets (`toolchain: uv` looks it up on PATH only);
- AWS credentials work (`sts:GetCallerIdentity`);
- the stack exists in that backend (`pulumi stack ls`);
- the stage's reserved concurrency fits the account (`lambda:GetAccountSettings`): Lambda refuses a
  reservation that leaves fewer than 100 unreserved executions, and new accounts often have a
  concurrency quota far below the default 1,000;
- with no reservation, what to reserve (the commands): a small one for the orchestrator, and
  `worker_concurrency` for the worker, when the account can spare them (issue 22, item 3);
- the stage's `price_*_nusd` settings are its region's (`sweep:pricesRegion`, see `price_region`);
- `settings.worker_concurrency` is no more than the worker can have (its reservation, else the
  unreserved pool): the run estimates and the event-age check assume it.

Every check runs in one pass; one that needs what failed is reported skipped.

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

from sweep_contracts.stack_config import read_stack_config, stack_config_path, stack_stages
from sweep_infra.errors import PreflightError
from sweep_infra.price_region import price_region_problem

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_lambda import LambdaClient

INVOKE_RATE_PER_QUOTA = 10  # invocation requests per second per unit of concurrency quota
MIN_UNRESERVED = 100  # Lambda keeps at least this many executions unreserved per account and region
DEFAULT_QUOTA = 1_000
# The API's synchronous calls are short and a run's child dispatchers are a few (shards / fan-out
# batch): 20 keeps the API answering while the worker holds the rest of the pool.
ORCHESTRATOR_RESERVATION = 20
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
        nearby = f"add {beside.parent} to PATH ({beside} exists), or " if beside.is_file() else ""
        raise PreflightError("the Pulumi CLI is not on PATH.", field="PATH", value=path, hint=nearby + INSTALL_PULUMI)
    uv = shutil.which("uv", path=path)
    if uv is None:
        raise PreflightError(
            "`uv` is not on PATH, and Pulumi runs the program with the uv it finds there (Pulumi.yaml: "
            "`toolchain: uv`).",
            field="PATH",
            value=path,
            hint="run `make preview` / `make deploy`, which put the uv of `make install` on PATH.",
        )
    answer = run([pulumi, "whoami", "--json"], capture_output=True, text=True, timeout=60, check=False, env=environ)
    if answer.returncode != 0:
        last = (answer.stderr.strip().splitlines() or ["?"])[-1]
        raise PreflightError(
            f"`pulumi whoami` failed ({last}).",
            hint="log in to a backend first: `pulumi login` (Pulumi Cloud), `pulumi login s3://<bucket>` or "
            "`pulumi login --local`.",
        )
    backend = str(json.loads(answer.stdout or "{}").get("url", ""))
    found = [f"Pulumi CLI {pulumi}, backend {backend or '?'}", f"uv {uv}"]
    passphrase = environ.get("PULUMI_CONFIG_PASSPHRASE") is not None or environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if backend.startswith(SELF_MANAGED) and not passphrase:
        raise PreflightError(
            f"the backend {backend} is self-managed: Pulumi encrypts the stack's secrets with a passphrase, and "
            "`pulumi up` and `pulumi stack output` (which the sweep CLI runs to find the endpoint) stop without "
            "it.",
            field="PULUMI_CONFIG_PASSPHRASE",
            hint="export PULUMI_CONFIG_PASSPHRASE=<passphrase> (or PULUMI_CONFIG_PASSPHRASE_FILE=<file>).",
        )
    return found


def check_credentials(session: boto3.Session) -> str:
    """The account the credentials belong to."""
    from botocore.exceptions import BotoCoreError, ClientError

    if session.get_credentials() is None:
        raise PreflightError(
            "no AWS credentials found.",
            hint="run `aws configure`, or `aws sso login --profile <name>` and `export AWS_PROFILE=<name>`, "
            "then try again.",
        )
    try:
        account: str = session.client("sts").get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as exc:
        raise PreflightError(
            f"the AWS credentials do not work ({exc}).",
            hint="refresh them (`aws sso login`, or new access keys) and try again.",
        ) from None
    return account


def stage_reservations(root: Path, stage: str) -> tuple[str, list[Reservation]]:
    """The stage's region and the reservations its stack config asks for."""
    config = read_stack_config(root, stage)
    if config is None:
        name = stack_config_path(root, stage).name
        raise PreflightError(f"there is no {name} in {root}: the stacks are {stack_stages(root)}.")
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
            f"{MIN_UNRESERVED} unreserved, so at most {max(0, unreserved + held - MIN_UNRESERVED)} can be reserved.",
            field="reservedConcurrency",
            value=asked,
            limit=max(0, unreserved + held - MIN_UNRESERVED),
            hint=f"remove the reservation (`pulumi config rm --path --stack {stage} sweep:worker.reservedConcurrency`) "
            f"or lower it, or {increase}.",
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


def check_stack_exists(stage: str, root: Path, environ: Mapping[str, str], run: Any = subprocess.run) -> str:
    """The stack is in the backend Pulumi is logged in to (`pulumi stack ls`)."""
    pulumi = shutil.which("pulumi", path=environ.get("PATH", "")) or "pulumi"
    answer = run(
        [pulumi, "stack", "ls", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=environ,
    )
    try:
        names = {str(s.get("name", "")).rsplit("/", 1)[-1] for s in json.loads(answer.stdout or "[]")}
    except (json.JSONDecodeError, AttributeError):
        names = set()
    if answer.returncode != 0 or stage not in names:
        listed = ", ".join(sorted(names)) or "none"
        raise PreflightError(
            f"stack `{stage}` does not exist in this Pulumi backend (its stacks: {listed}).",
            field="STACK",
            value=stage,
            hint=f"create it with `pulumi stack init {stage}` (Pulumi.{stage}.yaml holds its config already).",
        )
    return f"stack `{stage}` exists"


def stage_worker_concurrency(root: Path, stage: str) -> int | None:
    config = read_stack_config(root, stage) or {}
    value = (config.get("sweep:settings") or {}).get("worker_concurrency")
    return int(value) if value is not None else None


def check_worker_concurrency(client: LambdaClient, stage: str, wanted: list[Reservation], setting: int | None) -> str:
    """`worker_concurrency` (what the run estimates and the event-age check assume runs at once)
    against what the account gives the worker: its reservation, else the unreserved pool."""
    if setting is None:
        return "settings.worker_concurrency is not set (the default is assumed)"
    reserved = next((r.wanted for r in wanted if r.function.endswith("-worker")), None)
    limits = client.get_account_settings()["AccountLimit"]
    available = reserved if reserved is not None else int(limits.get("UnreservedConcurrentExecutions", 0))
    where = "its reservation" if reserved is not None else "the account's unreserved pool"
    if setting > available:
        raise PreflightError(
            f"settings.worker_concurrency is {setting}, but {where} holds {available}: the run estimates and the "
            f"event-age check would assume {setting} shards at once and accept runs whose tail expires in Lambda's "
            "queue.",
            field="sweep:settings.worker_concurrency",
            value=setting,
            limit=available,
            hint=f"`pulumi config set --path --stack {stage} sweep:settings.worker_concurrency {available}`, "
            "or reserve more for the worker, or raise the account's quota.",
        )
    return f"settings.worker_concurrency {setting} fits {where} ({available})"


def propose_reservations(client: LambdaClient, stage: str, wanted: list[Reservation], setting: int | None) -> str:
    """What the stage should reserve so the worker cannot starve the API or the account: a small
    reservation for the orchestrator and `worker_concurrency` for the worker, with the commands,
    when they leave the account at least `MIN_UNRESERVED` unreserved."""
    configured = {r.function.removeprefix(f"sweep-{stage}-"): r.wanted for r in wanted}
    missing = {"orchestrator": ORCHESTRATOR_RESERVATION, "worker": setting}
    proposal = {role: n for role, n in missing.items() if role not in configured and n is not None}
    if not proposal:
        held_text = " and ".join(f"{n} for its {role}" for role, n in sorted(configured.items()))
        return (
            f"stage `{stage}` reserves {held_text}: worker_concurrency is a real cap, and the worker cannot starve "
            "the API or the account"
        )
    unset = [role for role in ("orchestrator", "worker") if role not in configured]
    risk = (
        f"stage `{stage}` reserves no concurrency for its {' or '.join(unset)}: the worker may take every free slot "
        "of the account's unreserved pool, so the API's synchronous invokes of the orchestrator get 429 (HTTP 500 "
        "through API Gateway), other functions in the account are throttled"
    )
    if "worker" in unset and setting is not None:
        risk += f", and worker_concurrency {setting} caps nothing"
    limits = client.get_account_settings()["AccountLimit"]
    unreserved = int(limits.get("UnreservedConcurrentExecutions", 0))
    held = sum(_reserved_now(client, f"sweep-{stage}-{role}") for role in ("orchestrator", "worker"))
    left = unreserved + held - sum(configured.values()) - sum(proposal.values())
    amounts = " and ".join(f"{n} for the {role}" for role, n in proposal.items())
    if left < MIN_UNRESERVED:
        return (
            f"{risk}. The account cannot spare {amounts}: {unreserved} are unreserved and Lambda keeps "
            f"{MIN_UNRESERVED}. To reserve them, ask for a higher quota: `aws service-quotas "
            f"request-service-quota-increase --service-code lambda --quota-code {QUOTA_CODE} --desired-value "
            f"{DEFAULT_QUOTA} --region {client.meta.region_name}`"
        )
    set_path = f"pulumi config set --path --stack {stage}"
    commands = " and ".join(f"`{set_path} sweep:{role}.reservedConcurrency {n}`" for role, n in proposal.items())
    return (
        f"{risk}. The account can spare {amounts} ({left} stay unreserved): {commands}, then deploy. A reservation "
        "is taken from the account's pool for good, used or not (docs/deploy.md)"
    )


@dataclass(frozen=True)
class Check:
    """One check's verdict: `ok`, `failed` (with the fix) or `skipped` (with what it needs)."""

    verdict: str
    text: str


def _attempt(checks: list[Check], step: Any) -> Any:
    try:
        result = step()
    except PreflightError as exc:
        checks.append(Check("failed", str(exc)))
        return None
    for line in result if isinstance(result, list) else [result]:
        checks.append(Check("ok", str(line)))
    return result


def run_checks(stage: str, root: Path, environ: Mapping[str, str], session: boto3.Session | None = None) -> list[Check]:
    """Every check that can run, in one pass: a failure does not stop the others, and a check that
    needs what failed is reported skipped."""
    import boto3

    checks: list[Check] = []
    tools = _attempt(checks, lambda: check_tools(environ.get("PATH", ""), environ))
    stack = _attempt(checks, lambda: stage_reservations(root, stage))
    if stack is not None and (prices := price_region_problem(root, stage)):
        checks.append(Check("failed", prices))  # said only when wrong: a stage in us-east-1 needs no word
    if tools is not None and stack is not None:
        _attempt(checks, lambda: check_stack_exists(stage, root, environ))
    else:
        checks.append(Check("skipped", "whether the stack exists (needs the Pulumi CLI, logged in, and its config)"))
    region, wanted = stack if stack is not None else ("us-east-1", [])
    session = session or boto3.Session(region_name=region)
    account = _attempt(checks, lambda: f"AWS account {check_credentials(session)}")
    if account is None or stack is None:
        checks.append(Check("skipped", "Lambda concurrency (needs working AWS credentials and the stack's config)"))
        return checks
    client = session.client("lambda", region_name=region)
    _attempt(checks, lambda: check_concurrency(client, stage, region, wanted))
    setting = stage_worker_concurrency(root, stage)
    _attempt(checks, lambda: check_worker_concurrency(client, stage, wanted, setting))
    _attempt(checks, lambda: propose_reservations(client, stage, wanted, setting))
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sweep_infra.preflight", description=__doc__.split("\n")[0])
    parser.add_argument("--stack", required=True, help="the stage: dev, prod, …")
    args = parser.parse_args(argv)
    from sweep_infra.packaging import repo_root

    checks = run_checks(args.stack, repo_root(), os.environ)
    for check in checks:
        if check.verdict == "ok":
            print(f"ok: {check.text}")
        else:
            print(f"preflight: {check.verdict}: {check.text}", file=sys.stderr)
    failed = sum(c.verdict == "failed" for c in checks)
    if failed:
        print(f"preflight: {failed} check(s) failed; fix them and run it again.", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
