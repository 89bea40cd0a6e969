"""Which deployed stage the CLI talks to: its endpoint, region and resource names.

In order: flags (`--endpoint`, `--region`), environment (`SWEEP_API_URL`, `SWEEP_RESULTS_BUCKET`,
`SWEEP_GLUE_DATABASE`, `SWEEP_ATHENA_WORKGROUP`, `SWEEP_REGION`), then what the stage says of
itself: the Pulumi stack outputs (`pulumi stack output --json --stack <stage>`, run where
`Pulumi.yaml` is: the current directory or one above it, or `SWEEP_PULUMI_DIR`), the region in
its API URL, `aws:region` in `Pulumi.<stage>.yaml`; a region last from `AWS_REGION` /
`AWS_DEFAULT_REGION`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sweep_cli.errors import UsageError
from sweep_contracts import environment, outputs
from sweep_contracts.stack_config import read_stack_config

ENV = {
    outputs.API_URL: environment.API_URL,
    outputs.REGION: environment.REGION,
    outputs.RESULTS_BUCKET: environment.RESULTS_BUCKET,
    outputs.GLUE_DATABASE: environment.GLUE_DATABASE,
    outputs.ATHENA_WORKGROUP: environment.ATHENA_WORKGROUP,
}
STAGE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
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
    named: bool = True
    """False when only --endpoint named the stage: commands that follow up then repeat the URL."""

    @property
    def flags(self) -> str:
        """The options that name this stage again in a follow-up command."""
        return f"--stage {self.name}" if self.named else f"--endpoint {self.api_url} --region {self.region}"

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
    if os.environ.get(environment.PULUMI_DIR):
        return Path(os.environ[environment.PULUMI_DIR])
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
    result = subprocess.run(  # noqa: S603 - fixed command, the stage name is checked by check_stage_name
        [pulumi, "stack", "output", "--json", "--stack", stage],
        cwd=directory,
        stdin=subprocess.DEVNULL,  # never a passphrase prompt the user cannot see
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        hint = "check the stack exists (`pulumi stack ls`) and you are logged in, or pass --endpoint."
        if "PASSPHRASE" in result.stderr.upper():
            # self-managed backends ask for it even for plain outputs (pulumi/pulumi#21141)
            hint = (
                "the stack's backend is self-managed (`pulumi login --local` or s3://…), and Pulumi needs its "
                "passphrase even to read the outputs: export PULUMI_CONFIG_PASSPHRASE (or "
                "PULUMI_CONFIG_PASSPHRASE_FILE), or pass --endpoint."
            )
        raise UsageError(
            f"`pulumi stack output --stack {stage}` failed: {result.stderr.strip().splitlines()[-1:] or ['?']}",
            field="--stage",
            value=stage,
            hint=hint,
        )
    found: dict[str, str] = json.loads(result.stdout or "{}")
    return found


def check_stage_name(stage: str) -> str:
    if not STAGE_NAME.match(stage):
        raise UsageError(
            f"`{stage}` is not a stage name.",
            field="--stage",
            value=stage,
            hint="a stage name is lowercase letters, digits and `-`, e.g. --stage dev.",
        )
    return stage


def resolve_region(flag: str | None, own: Iterable[Callable[[], str | None]], where: str) -> str:
    """--region, else SWEEP_REGION, else what the stage says of itself (`own`, asked in order and
    only as far as needed), else AWS_REGION / AWS_DEFAULT_REGION."""
    found = flag or os.environ.get(environment.REGION)
    for candidate in own:
        found = found or candidate()
    for name in environment.AWS_REGIONS:
        found = found or os.environ.get(name)
    if found:
        return found
    raise UsageError(
        f"no AWS region is known for {where}.",
        field="--region",
        hint=f"pass --region (e.g. --region eu-west-1) or set {environment.REGION}.",
    )


def resolve_stage(stage: str | None, endpoint: str | None, region: str | None) -> StageInfo:
    name = check_stage_name(stage) if stage is not None else "custom"
    found = stack_outputs(stage) if stage and not (endpoint or os.environ.get(environment.API_URL)) else {}
    values = {key: os.environ.get(env) or found.get(key) for key, env in ENV.items()}
    api_url = endpoint or values[outputs.API_URL]
    if not api_url:
        raise UsageError(
            f"no endpoint for stage `{name}`.",
            field="--stage",
            value=stage,
            hint="pass --endpoint https://<api-id>.execute-api.<region>.amazonaws.com (the stack output "
            f"`api_url`), set {environment.API_URL}, or install the Pulumi CLI and run from the sweep repository.",
        )

    def from_url() -> str | None:
        match = _REGION_IN_URL.search(api_url)
        return match.group(1) if match else None

    return StageInfo(
        name=name,
        api_url=api_url.rstrip("/"),
        region=resolve_region(region, [lambda: found.get(outputs.REGION), from_url], api_url),
        results_bucket=values[outputs.RESULTS_BUCKET],
        glue_database=values[outputs.GLUE_DATABASE],
        athena_workgroup=values[outputs.ATHENA_WORKGROUP],
        named=stage is not None,
    )


def stage_region(stage: str, region: str | None) -> str:
    """The region of a stage known by name only: as `resolve_region`, the stage's own being
    `aws:region` in `Pulumi.<stage>.yaml`."""

    def from_stack_config() -> str | None:
        directory = pulumi_dir()
        config = read_stack_config(directory, stage) if directory is not None else None
        found = (config or {}).get("aws:region")
        return str(found) if found else None

    return resolve_region(region, [from_stack_config], f"stage `{check_stage_name(stage)}`")
