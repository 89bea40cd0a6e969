"""`sweep params`: seeding a stage's SSM parameters from its stack config, never overwriting without
--force, showing drift, and setting secrets without putting them on a command line."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from sweep_aws.ssm import SsmSecrets
from sweep_cli.main import app
from sweep_contracts.errors import SecretUnavailableError

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
DEV = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]["sweep:settings"]


@pytest.fixture
def ssm(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(ROOT)  # where Pulumi.yaml and the stack configs are
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["params", *args], input=stdin)
    return result.exit_code, result.output


def values(ssm: Any, prefix: str = "/sweep/dev/") -> dict[str, tuple[str, int]]:
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=prefix)  # 10 a page
    found = [p for page in pages for p in page["Parameters"]]
    return {p["Name"][len(prefix) :]: (p["Value"], p["Version"]) for p in found}


def test_seed_writes_every_setting_from_the_stack_config(ssm: Any) -> None:
    code, output = invoke("seed", "--stage", "dev")
    assert code == 0, output
    assert values(ssm) == {name: (str(value), 1) for name, value in DEV.items()}
    assert "pulumi up --stack dev` puts the stack config's values back" in output
    # seeding again changes nothing
    code, output = invoke("seed", "--stage", "dev")
    assert {v for _, v in values(ssm).values()} == {1}


def test_seed_never_overwrites_without_force(ssm: Any) -> None:
    invoke("seed", "--stage", "dev")
    ssm.put_parameter(Name="/sweep/dev/max_points", Value="5", Type="String", Overwrite=True)
    code, output = invoke("seed", "--stage", "dev", "--set", "shard_size=50")
    assert code == 0
    assert values(ssm)["max_points"] == ("5", 2)  # someone's value kept
    assert values(ssm)["shard_size"] == ("100", 1)  # differs, so kept too
    assert "2 existing value(s) differ and were kept (max_points, shard_size); --force overwrites them." in output
    code, output = invoke("seed", "--stage", "dev", "--set", "shard_size=50", "--force")
    assert values(ssm)["max_points"] == (str(DEV["max_points"]), 3)
    assert values(ssm)["shard_size"] == ("50", 2)


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        (
            "max_pointz=5",
            "error: `max_pointz` is not a setting; did you mean `max_points`?\n  hint: valid settings: max_points, max_shards",
        ),
        ("max_shards=lots", "error: setting `max_shards` cannot be 'lots': input should be a valid integer"),
        ("max_shards=0", "hint: give an integer from 1 to 99999 (default 10000)."),
        ("max_points", "error: `--set max_points` is not NAME=VALUE."),
    ],
)
def test_unknown_names_and_wrong_values_are_refused(ssm: Any, assignment: str, message: str) -> None:
    code, output = invoke("seed", "--stage", "dev", "--set", assignment)
    assert code == 2
    assert message in output
    assert values(ssm) == {}  # nothing written


def test_show_lists_values_versions_and_drift(ssm: Any) -> None:
    invoke("seed", "--stage", "dev")
    ssm.put_parameter(Name="/sweep/dev/shard_size", Value="7", Type="String", Overwrite=True)
    ssm.delete_parameter(Name="/sweep/dev/min_shards")
    code, output = invoke("show", "--stage", "dev")
    assert code == 0
    lines = {line.split("│")[1].strip(): line for line in output.splitlines() if line.count("│") > 3}
    assert "differs: 100" in lines["shard_size"]
    assert "missing" in lines["min_shards"]
    assert "matches" in lines["max_points"]


def test_secrets_are_read_from_stdin_and_never_shown(ssm: Any) -> None:
    code, output = invoke("set-secret", "ollama_api_key", "--stage", "dev", stdin="s3cr3t-value\n")
    assert code == 0, output
    assert "s3cr3t-value" not in output
    parameter = ssm.get_parameter(Name="/sweep/dev/secrets/ollama_api_key", WithDecryption=True)["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == ("SecureString", "s3cr3t-value")
    assert SsmSecrets("/sweep/dev/", client=ssm)(["ollama_api_key"]) == {"ollama_api_key": "s3cr3t-value"}
    code, output = invoke("show", "--stage", "dev")
    assert "(SecureString, hidden)" in output
    assert "s3cr3t-value" not in output


def test_a_placeholder_secret_reads_as_unavailable(ssm: Any) -> None:
    from sweep_contracts.settings import SECRET_PLACEHOLDER

    ssm.put_parameter(Name="/sweep/dev/secrets/key", Value=SECRET_PLACEHOLDER, Type="SecureString")
    with pytest.raises(SecretUnavailableError, match="still holds its placeholder"):
        SsmSecrets("/sweep/dev/", client=ssm)(["key"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_seeded_values_are_readable_with_the_aws_cli(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a moto server standing in for SSM
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        monkeypatch.chdir(ROOT)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        # WHEN `sweep params seed` writes the dev stage's parameters
        code, output = invoke("seed", "--stage", "dev", "--set", "max_points=123456")
        assert code == 0, output
        # THEN the AWS CLI reads them back
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "awscli",
                "ssm",
                "get-parameters-by-path",
                "--path",
                "/sweep/dev/",
                "--endpoint-url",
                endpoint,
                "--region",
                "us-east-1",
                "--output",
                "json",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        found = {p["Name"]: p["Value"] for p in json.loads(result.stdout)["Parameters"]}
        assert found["/sweep/dev/max_points"] == "123456"
        assert found["/sweep/dev/shard_size"] == str(DEV["shard_size"])
        assert len(found) == len(DEV)
    finally:
        server.stop()


@pytest.mark.parametrize("force", [False, True])
def test_seed_does_not_replace_a_write_that_lands_after_its_read_issue20(
    ssm: Any, monkeypatch: pytest.MonkeyPatch, force: bool
) -> None:
    # GIVEN a seeded stage (max_points at version 1), or an empty one, and another admin whose write
    # lands between seed's read of SSM and its writes
    if force:
        invoke("seed", "--stage", "dev")
    from sweep_cli.stage.params import StageParameters

    read = StageParameters.current

    def read_then_another_admin_writes(self: StageParameters, recursive: bool = False) -> Any:
        found = read(self, recursive)
        ssm.put_parameter(Name="/sweep/dev/max_points", Value="7", Type="String", Overwrite=True)
        return found

    monkeypatch.setattr(StageParameters, "current", read_then_another_admin_writes)
    # WHEN seed writes max_points=9 (created, or overwritten with --force)
    code, output = invoke("seed", "--stage", "dev", "--set", "max_points=9", *(["--force"] if force else []))
    # THEN the other admin's value stays, and one paragraph says what SSM holds (exit 2)
    assert code == 2, output
    expected = (
        "`max_points` is at version 2 (holding 7), not at version 1 as the write expected."
        if force
        else "`max_points` exists already (version 1, holding 7): a create-only write does not replace it."
    )
    assert output.startswith(f"error: {expected}"), output
    assert values(ssm)["max_points"] == ("7", 2 if force else 1)
