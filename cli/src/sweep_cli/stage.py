"""Which deployed stage the CLI talks to: its endpoint and resource names.

In order: flags (`--endpoint`, `--region`), environment (`SWEEP_API_URL`, `SWEEP_RESULTS_BUCKET`,
`SWEEP_GLUE_DATABASE`, `SWEEP_ATHENA_WORKGROUP`, `SWEEP_REGION`), then the Pulumi stack outputs
(`pulumi stack output --json --stack <stage>`, run where `Pulumi.yaml` is: the current directory
or one above it, or `SWEEP_PULUMI_DIR`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sweep_cli.errors import UsageError
from sweep_contracts import outputs

ENV = {
    outputs.API_URL: "SWEEP_API_URL",
    outputs.REGION: "SWEEP_REGION",
    outputs.RESULTS_BUCKET: "SWEEP_RESULTS_BUCKET",
    outputs.GLUE_DATABASE: "SWEEP_GLUE_DATABASE",
    outputs.ATHENA_WORKGROUP: "SWEEP_ATHENA_WORKGROUP",
}
_REGION_IN_URL = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


@dataclass(frozen=True)
class StageInfo:
    """A stage as the CLI needs it."""

    name: str
    api_url: str
    region: str
    results_bucket: str | None = None
    glue_database: str | None = None
    athena_workgroup: str | None = None

    def need(self, what: str) -> str:
        value: str | None = getattr(self, what)
        if not value:
            raise UsageError(
                f"stage `{self.name}` does not say its {what.replace('_', ' ')}.",
                field=what,
                hint=f"set {ENV[what]} or use a stage whose Pulumi outputs include `{what}`.",
            )
        return value


def pulumi_dir() -> Path | None:
    if os.environ.get("SWEEP_PULUMI_DIR"):
        return Path(os.environ["SWEEP_PULUMI_DIR"])
    here = Path.cwd()
    for directory in (here, *here.parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory
    return None


def stack_outputs(stage: str) -> dict[str, str]:
    """The stack's outputs from the Pulumi CLI, or {} where there is no Pulumi CLI or project."""
    pulumi, directory = shutil.which("pulumi"), pulumi_dir()
    if not pulumi or directory is None:
        return {}
    result = subprocess.run(  # noqa: S603 - fixed command, the stage name is checked below
        [pulumi, "stack", "output", "--json", "--stack", stage],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise UsageError(
            f"`pulumi stack output --stack {stage}` failed: {result.stderr.strip().splitlines()[-1:] or ['?']}",
            field="--stage",
            value=stage,
            hint="check the stack exists (`pulumi stack ls`) and you are logged in, or pass --endpoint.",
        )
    found: dict[str, str] = json.loads(result.stdout or "{}")
    return found


def resolve_stage(stage: str | None, endpoint: str | None, region: str | None) -> StageInfo:
    if stage is not None and not re.fullmatch(r"^[a-z][a-z0-9-]{0,30}$", stage):
        raise UsageError(f"`{stage}` is not a stage name.", field="--stage", value=stage, hint="e.g. --stage dev")
    name = stage or "custom"
    found = stack_outputs(stage) if stage and not (endpoint or os.environ.get(ENV[outputs.API_URL])) else {}
    values = {key: os.environ.get(env) or found.get(key) for key, env in ENV.items()}
    api_url = endpoint or values[outputs.API_URL]
    if not api_url:
        raise UsageError(
            f"no endpoint for stage `{name}`.",
            field="--stage",
            value=stage,
            hint="pass --endpoint https://<api-id>.execute-api.<region>.amazonaws.com (the stack output "
            "`api_url`), set SWEEP_API_URL, or install the Pulumi CLI and run from the sweep repository.",
        )
    match = _REGION_IN_URL.search(api_url)
    resolved_region = region or values[outputs.REGION] or (match.group(1) if match else None)
    resolved_region = resolved_region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not resolved_region:
        raise UsageError(
            f"no AWS region for {api_url}.", field="--region", hint="pass --region, e.g. --region eu-west-1."
        )
    return StageInfo(
        name=name,
        api_url=api_url.rstrip("/"),
        region=resolved_region,
        results_bucket=values[outputs.RESULTS_BUCKET],
        glue_database=values[outputs.GLUE_DATABASE],
        athena_workgroup=values[outputs.ATHENA_WORKGROUP],
    )


def stage_region(stage: str, region: str | None) -> str:
    """--region, else SWEEP_REGION / AWS_REGION, else `aws:region` of `Pulumi.<stage>.yaml`."""
    found = (
        region or os.environ.get("SWEEP_REGION") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    directory = pulumi_dir()
    if not found and directory is not None and (directory / f"Pulumi.{stage}.yaml").is_file():
        import yaml

        config = yaml.safe_load((directory / f"Pulumi.{stage}.yaml").read_text()) or {}
        found = (config.get("config") or {}).get("aws:region")
    if not found:
        raise UsageError(
            f"no AWS region for stage `{stage}`.", field="--region", hint="pass --region, e.g. --region us-east-1."
        )
    return str(found)
