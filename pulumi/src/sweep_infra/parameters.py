"""The stage's SSM parameters: one String per stage setting, and SecureString placeholders for the
experiments' secrets.

Settings: the stack config is their source of truth. `Pulumi.yaml` sets `refresh: always`, so every
`pulumi up` reads the live values first and puts back any value changed with `sweep params seed`:
a seed is a one-off override that lasts until the next deployment; to keep a value, put it in the
stack config (`pulumi config set --path sweep:settings.<name> <value>`).

Secrets: created once with a placeholder and never given a value by this program (their value is
not in code, config or Pulumi state); `ignore_changes` keeps `pulumi up` from ever resetting the
value an operator sets (`sweep params set-secret`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from sweep_contracts.settings import SECRET_PLACEHOLDER, SystemSettings, secrets_prefix


@dataclass(frozen=True)
class StageParametersArgs:
    prefix: str
    settings: SystemSettings
    secrets: list[str]
    tags: dict[str, str]


class StageParameters(pulumi.ComponentResource):
    def __init__(self, name: str, args: StageParametersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sweep:parameters:StageParameters", name, None, opts)
        described = SystemSettings.describe()
        self.settings = {
            setting: aws.ssm.Parameter(
                f"{name}-{setting}",
                name=f"{args.prefix}{setting}",
                type="String",
                value=str(value),
                description=str(described[setting]["description"]),
                tags=args.tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for setting, value in args.settings.values().items()
        }
        self.secrets = {
            secret: aws.ssm.Parameter(
                f"{name}-secret-{secret}",
                name=secrets_prefix(args.prefix) + secret,
                type="SecureString",
                value=SECRET_PLACEHOLDER,
                description=f"experiment secret `{secret}`; set its value with `sweep params set-secret`",
                tags=args.tags,
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["value"]),
            )
            for secret in args.secrets
        }
        self.register_outputs({"prefix": args.prefix})
