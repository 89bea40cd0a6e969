"""`make preview` / `make deploy`'s checks: the Pulumi CLI and uv on a given PATH (fake executables
in a temporary directory), AWS credentials, and Lambda's account concurrency (moto, with
`GetAccountSettings` answered by a botocore hook: moto does not implement it)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto import mock_aws

from sweep_infra.preflight import (
    PreflightError,
    Reservation,
    check_concurrency,
    check_credentials,
    check_stack_exists,
    check_tools,
    check_worker_concurrency,
    price_region_problem,
    propose_reservations,
    run_checks,
    stage_reservations,
    stage_worker_concurrency,
)
from tests.cloud import response

ROOT = Path(__file__).resolve().parents[2]


def executables(directory: Path, **scripts: str) -> str:
    """A PATH of one directory holding `name` scripts with the given shell bodies."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in scripts.items():
        path = directory / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return str(directory)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


# --- tools ---------------------------------------------------------------------------------------


def test_no_pulumi_cli_says_how_to_install_it(tmp_path: Path, home: Path) -> None:
    # GIVEN a PATH with uv but no pulumi (this machine's situation)
    path = executables(tmp_path / "bin", uv="exit 0")
    # WHEN the tools are checked
    with pytest.raises(PreflightError) as info:
        check_tools(path, {"PATH": path})
    # THEN the message says what is missing and how to get it
    assert (info.value.message, info.value.field) == ("the Pulumi CLI is not on PATH.", "PATH")
    assert info.value.hint == (
        "install it with `curl -fsSL https://get.pulumi.com | sh` (or see "
        "https://www.pulumi.com/docs/install/), open a new shell, then log in to a backend: `pulumi login`, "
        "`pulumi login s3://<bucket>` or `pulumi login --local`."
    )
    # AND the text shown carries both
    assert str(info.value) == f"the Pulumi CLI is not on PATH. Fix: {info.value.hint}"


def test_a_pulumi_cli_installed_but_not_on_path_is_pointed_at(tmp_path: Path, home: Path) -> None:
    executables(home / ".pulumi" / "bin", pulumi="exit 0")
    path = executables(tmp_path / "bin", uv="exit 0")
    with pytest.raises(PreflightError) as info:
        check_tools(path, {"PATH": path})
    assert info.value.message == "the Pulumi CLI is not on PATH."
    assert (info.value.hint or "").startswith(f"add {home}/.pulumi/bin to PATH ({home}/.pulumi/bin/pulumi exists), or ")


def test_pulumi_needs_uv_on_the_same_path(tmp_path: Path, home: Path) -> None:
    path = executables(tmp_path / "bin", pulumi="exit 0")
    with pytest.raises(PreflightError, match=r"^`uv` is not on PATH, and Pulumi runs the program with the uv") as info:
        check_tools(path, {"PATH": path})
    assert info.value.hint == "run `make preview` / `make deploy`, which put the uv of `make install` on PATH."


def test_pulumi_not_logged_in(tmp_path: Path, home: Path) -> None:
    path = executables(
        tmp_path / "bin", uv="exit 0", pulumi="echo 'error: PULUMI_ACCESS_TOKEN must be set' >&2; exit 255"
    )
    with pytest.raises(PreflightError) as info:
        check_tools(path, {"PATH": path})
    assert info.value.message == "`pulumi whoami` failed (error: PULUMI_ACCESS_TOKEN must be set)."
    assert (info.value.hint or "").startswith("log in to a backend first: `pulumi login`")


def test_a_self_managed_backend_needs_the_passphrase(tmp_path: Path, home: Path) -> None:
    # GIVEN `pulumi login --local` (pulumi/pulumi#21141: `stack output` asks for the passphrase)
    path = executables(tmp_path / "bin", uv="exit 0", pulumi='echo \'{"user":"me","url":"file://~"}\'')
    # WHEN no passphrase is in the environment THEN the check says which variable to set
    with pytest.raises(PreflightError, match=r"export PULUMI_CONFIG_PASSPHRASE=<passphrase>"):
        check_tools(path, {"PATH": path})
    # WHEN it is (even empty, which Pulumi accepts) THEN the tools pass
    found = check_tools(path, {"PATH": path, "PULUMI_CONFIG_PASSPHRASE": ""})
    assert found == [f"Pulumi CLI {path}/pulumi, backend file://~", f"uv {path}/uv"]


def test_the_module_fails_with_a_message_and_no_traceback(tmp_path: Path, home: Path) -> None:
    # GIVEN no Pulumi CLI on PATH WHEN `make preview` runs the preflight module
    path = executables(tmp_path / "bin", uv="exit 0")
    env = {**os.environ, "PATH": path, "HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "sweep_infra.preflight", "--stack", "dev"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # THEN it exits 1 with the one-line fix on stderr
    assert result.returncode == 1
    assert result.stderr.startswith("preflight: failed: the Pulumi CLI is not on PATH. Fix: install it with")
    assert "Traceback" not in result.stderr


def test_every_check_that_can_run_is_reported_in_one_pass(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no Pulumi CLI and no AWS credentials (issue 23, item 15: it used to stop at the first)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    path = executables(tmp_path / "bin", uv="exit 0")
    # WHEN the checks run
    checks = run_checks("dev", ROOT, {"PATH": path})
    # THEN both failures are reported, what needs them is skipped, and the stack config passed
    assert [c.verdict for c in checks] == ["failed", "ok", "skipped", "failed", "skipped"]
    assert checks[0].text.startswith("the Pulumi CLI is not on PATH")
    assert checks[3].text.startswith("no AWS credentials found")


def test_a_stack_missing_from_the_backend_says_how_to_create_it(tmp_path: Path) -> None:
    listed = json.dumps([{"name": "prod", "current": False}])
    path = executables(tmp_path / "bin", pulumi=f"echo '{listed}'")
    with pytest.raises(PreflightError, match=r"^stack `dev` does not exist .* \(its stacks: prod\)\.") as info:
        check_stack_exists("dev", ROOT, {"PATH": path})
    assert "`pulumi stack init dev`" in (info.value.hint or "")
    assert check_stack_exists("prod", ROOT, {"PATH": path}) == "stack `prod` exists"


# --- credentials ---------------------------------------------------------------------------------


def test_no_aws_credentials_say_how_to_get_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(PreflightError, match=r"^no AWS credentials found\.") as info:
        check_credentials(boto3.Session(region_name="us-east-1"))
    assert (info.value.hint or "").startswith("run `aws configure`")


def test_working_credentials_name_the_account(aws_env: None) -> None:
    with mock_aws():
        assert check_credentials(boto3.Session(region_name="us-east-1")) == "123456789012"


# --- concurrency ---------------------------------------------------------------------------------


@pytest.fixture
def lambda_api(aws_env: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("lambda", region_name="us-east-1")
        client.limits = {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000}

        def account_settings(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
            if request.url.rstrip("/").endswith("/2016-08-19/account-settings"):
                body = {"AccountLimit": {**client.limits, "CodeSizeZipped": 52428800}, "AccountUsage": {}}
                return response(200, json.dumps(body).encode(), {"content-type": "application/json"})
            return None

        client.meta.events.register("before-send.lambda.GetAccountSettings", account_settings)
        client.account_settings = account_settings  # for clients the code under test makes itself
        yield client


def zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("h.py", "def h(event, context):\n    return None\n")
    return buffer.getvalue()


def test_the_shipped_stacks_reserve_nothing() -> None:
    assert stage_reservations(ROOT, "dev") == ("us-east-1", [])
    assert stage_reservations(ROOT, "prod") == ("us-east-1", [])


def test_a_reservation_that_would_leave_under_100_unreserved_is_refused_with_the_numbers(lambda_api: Any) -> None:
    # GIVEN a new account: a quota of 50, all unreserved; the stage wants 20 for its worker
    lambda_api.limits = {"ConcurrentExecutions": 50, "UnreservedConcurrentExecutions": 50}
    with pytest.raises(PreflightError) as info:
        check_concurrency(lambda_api, "dev", "us-east-1", [Reservation("sweep-dev-worker", 20)])
    # THEN the message gives the quota, what is unreserved, the floor, and both fixes
    assert str(info.value) == (
        "stage `dev` reserves 20 executions (20 for sweep-dev-worker), but the account's Lambda concurrency quota "
        "in us-east-1 is 50 (50 unreserved now): Lambda keeps at least 100 unreserved, so at most 0 can be reserved. "
        "Fix: remove the reservation (`pulumi config rm --path --stack dev sweep:worker.reservedConcurrency`) or "
        "lower it, or ask for a higher quota: `aws service-quotas request-service-quota-increase --service-code "
        "lambda --quota-code L-B99A9384 --desired-value 1000 --region us-east-1`."
    )


def test_a_redeploy_counts_the_reservation_the_stage_already_holds(lambda_api: Any) -> None:
    # GIVEN the worker already reserves 20 and 110 are unreserved (quota 130)
    lambda_api.limits = {"ConcurrentExecutions": 130, "UnreservedConcurrentExecutions": 110}
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = boto3.client("iam").create_role(RoleName="worker", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    lambda_api.create_function(
        FunctionName="sweep-dev-worker", Runtime="python3.12", Role=role, Handler="h.h", Code={"ZipFile": zipped()}
    )
    lambda_api.put_function_concurrency(FunctionName="sweep-dev-worker", ReservedConcurrentExecutions=20)
    # WHEN the stage deploys the same reservation THEN it fits: 110 + 20 - 20 = 110 stay unreserved
    report = check_concurrency(lambda_api, "dev", "us-east-1", [Reservation("sweep-dev-worker", 20)])
    assert report.startswith(
        "the account's Lambda concurrency quota in us-east-1 is 130 (110 unreserved now); "
        "stage `dev` reserves 20, leaving 110 unreserved. At most 110 shards run at once"
    )


def test_without_reservations_a_small_quota_is_explained(lambda_api: Any) -> None:
    lambda_api.limits = {"ConcurrentExecutions": 10, "UnreservedConcurrentExecutions": 10}
    report = check_concurrency(lambda_api, "dev", "us-east-1", [])
    assert report == (
        "the account's Lambda concurrency quota in us-east-1 is 10 (10 unreserved now); stage `dev` reserves none, "
        "leaving 10 unreserved. At most 10 shards run at once on an unreserved worker; for more, ask for a higher "
        "quota: `aws service-quotas request-service-quota-increase --service-code lambda --quota-code L-B99A9384 "
        "--desired-value 1000 --region us-east-1`. Lambda takes at most 100 invoke requests a second here "
        "(10 x the quota); a run's dispatchers slow down to it when throttled"
    )


def test_worker_concurrency_beyond_the_unreserved_pool_is_refused_with_the_fix(lambda_api: Any) -> None:
    # GIVEN dev assumes 20 workers at once (its Pulumi.dev.yaml) on an account with 10 unreserved
    lambda_api.limits = {"ConcurrentExecutions": 10, "UnreservedConcurrentExecutions": 10}
    setting = stage_worker_concurrency(ROOT, "dev")
    assert setting == 20
    with pytest.raises(PreflightError, match=r"worker_concurrency is 20, but the account's unreserved pool holds 10"):
        check_worker_concurrency(lambda_api, "dev", [], setting)
    # WHEN the worker reserves 30 THEN 20 fits its reservation
    assert check_worker_concurrency(lambda_api, "dev", [Reservation("sweep-dev-worker", 30)], 20) == (
        "settings.worker_concurrency 20 fits its reservation (30)"
    )


def test_a_full_quota_needs_no_advice(lambda_api: Any) -> None:
    report = check_concurrency(lambda_api, "prod", "us-east-1", [Reservation("sweep-prod-worker", 500)])
    assert report == (
        "the account's Lambda concurrency quota in us-east-1 is 1000 (1000 unreserved now); "
        "stage `prod` reserves 500, leaving 500 unreserved. Lambda takes at most 10,000 invoke requests a second "
        "here (10 x the quota); a run's dispatchers slow down to it when throttled"
    )


# --- reservations proposed (issue 22, item 3) ----------------------------------------------------


def test_an_unreserved_stage_is_offered_reservations_that_fit(lambda_api: Any) -> None:
    # GIVEN dev (worker_concurrency 20, nothing reserved) on an account with 1,000 unreserved
    setting = stage_worker_concurrency(ROOT, "dev")
    # WHEN the preflight looks at the stage's reservations
    report = propose_reservations(lambda_api, "dev", [], setting)
    # THEN it proposes a small orchestrator reservation and one for the worker equal to worker_concurrency,
    # with the exact commands, what stays unreserved, and the trade-off
    assert report == (
        "stage `dev` reserves no concurrency for its orchestrator or worker: the worker may take every free slot "
        "of the account's unreserved pool, so the API's synchronous invokes of the orchestrator get 429 (HTTP 500 "
        "through API Gateway), other functions in the account are throttled, and worker_concurrency 20 caps nothing. "
        "The account can spare 20 for the orchestrator and 20 for the worker (960 stay unreserved): "
        "`pulumi config set --path --stack dev sweep:orchestrator.reservedConcurrency 20` and "
        "`pulumi config set --path --stack dev sweep:worker.reservedConcurrency 20`, then deploy. A reservation "
        "is taken from the account's pool for good, used or not (docs/deploy.md)"
    )


def test_a_reservation_already_set_is_not_proposed_again(lambda_api: Any) -> None:
    report = propose_reservations(lambda_api, "prod", [Reservation("sweep-prod-worker", 500)], 500)
    assert report == (
        "stage `prod` reserves no concurrency for its orchestrator: the worker may take every free slot of the "
        "account's unreserved pool, so the API's synchronous invokes of the orchestrator get 429 (HTTP 500 through "
        "API Gateway), other functions in the account are throttled. The account can spare 20 for the orchestrator "
        "(480 stay unreserved): `pulumi config set --path --stack prod sweep:orchestrator.reservedConcurrency 20`, "
        "then deploy. A reservation is taken from the account's pool for good, used or not (docs/deploy.md)"
    )
    both = [Reservation("sweep-prod-orchestrator", 20), Reservation("sweep-prod-worker", 500)]
    assert propose_reservations(lambda_api, "prod", both, 500) == (
        "stage `prod` reserves 20 for its orchestrator and 500 for its worker: worker_concurrency is a real cap, "
        "and the worker cannot starve the API or the account"
    )


def test_a_small_account_is_told_why_nothing_is_proposed(lambda_api: Any) -> None:
    # GIVEN a new account: quota 50, all unreserved; Lambda keeps 100 unreserved, so nothing can be reserved
    lambda_api.limits = {"ConcurrentExecutions": 50, "UnreservedConcurrentExecutions": 50}
    report = propose_reservations(lambda_api, "dev", [], 20)
    assert report == (
        "stage `dev` reserves no concurrency for its orchestrator or worker: the worker may take every free slot "
        "of the account's unreserved pool, so the API's synchronous invokes of the orchestrator get 429 (HTTP 500 "
        "through API Gateway), other functions in the account are throttled, and worker_concurrency 20 caps nothing. "
        "The account cannot spare 20 for the orchestrator and 20 for the worker: 50 are unreserved and Lambda keeps "
        "100. To reserve them, ask for a higher quota: `aws service-quotas request-service-quota-increase "
        "--service-code lambda --quota-code L-B99A9384 --desired-value 1000 --region us-east-1`"
    )


def test_run_checks_prints_the_proposal(lambda_api: Any, tmp_path: Path) -> None:
    # GIVEN the shipped dev stack, tools that work, and an account with room
    path = executables(
        tmp_path / "bin",
        pulumi='case "$1" in whoami) echo \'{"url":"https://api.pulumi.com"}\';; stack) echo \'[{"name":"dev"}]\';; esac',
        uv="exit 0",
    )
    session = boto3.Session(region_name="us-east-1")
    session.events.register("before-send.lambda.GetAccountSettings", lambda_api.account_settings)
    checks = run_checks("dev", ROOT, {"PATH": path}, session)
    proposal = [c for c in checks if "sweep:worker.reservedConcurrency 20" in c.text]
    assert [c.verdict for c in proposal] == ["ok"]


# --- prices of another region (issue 23, item 15) -------------------------------------------------


def stage_in(root: Path, region: str, *extra: str) -> Path:
    shipped = (ROOT / "Pulumi.dev.yaml").read_text()
    assert "  aws:region: us-east-1\n" in shipped
    text = shipped.replace("  aws:region: us-east-1\n", f"  aws:region: {region}\n" + "".join(extra))
    (root / "Pulumi.eu.yaml").write_text(text)
    return root


def test_a_stage_outside_us_east_1_with_its_prices_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # GIVEN the dev stack's config moved to eu-west-1, its prices left as they are (us-east-1's)
    root = stage_in(tmp_path, "eu-west-1")
    # WHEN the preflight runs THEN it fails once for the prices, naming them, the region and the fix
    problem = price_region_problem(root, "eu")
    assert problem == (
        "Pulumi.eu.yaml deploys to eu-west-1, but its prices (price_athena_gb_nusd, price_lambda_gb_s_nusd, "
        "price_lambda_request_nusd, price_s3_put_nusd, price_ssm_high_throughput_nusd) are us-east-1's: the run "
        "estimates and `max_run_cost_usd` would use them. Set each `price_*_nusd` under `sweep:settings` to "
        "eu-west-1's list price in nano-USD (libs/sweep_contracts/src/sweep_contracts/prices.py cites the pricing "
        "pages), then say so: `pulumi config set sweep:pricesRegion eu-west-1 --stack eu`."
    )
    checks = run_checks("eu", root, {"PATH": executables(tmp_path / "bin", uv="exit 0")})
    assert [c.text for c in checks if c.verdict == "failed"].count(problem) == 1


def test_prices_said_to_be_the_stage_regions_pass(tmp_path: Path) -> None:
    root = stage_in(tmp_path, "eu-west-1", "  sweep:pricesRegion: eu-west-1\n")
    assert price_region_problem(root, "eu") is None
    assert price_region_problem(ROOT, "dev") is None
    assert price_region_problem(ROOT, "prod") is None
