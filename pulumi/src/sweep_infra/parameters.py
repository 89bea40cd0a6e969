"""The stage's SSM parameters: one String per stage setting, and one per experiment default
(`experiments/<name>/<key>`, from the stack config's `sweep:experiments`).

Settings: the stack config is their source of truth. `Pulumi.yaml` sets `refresh: always`, so every
`pulumi up` reads the live values first and puts back any value changed with `sweep params seed`:
a seed is a one-off override that lasts until the next deployment; to keep a value, put it in the
stack config (`pulumi config set --path sweep:settings.<name> <value>`). `overwrite=True`, because
the provider otherwise creates a parameter with Overwrite off, and one that `sweep params seed`
created before the first `pulumi up` would stop the deploy with `ParameterAlreadyExists`.

Secret bindings (`<prefix>secret-bindings/<name>`, from `sweep:secretBindings`): where each secret
may go. Only this program (a settings admin's `pulumi up`) writes them: neither function's role may.

Secrets (`<prefix>secrets/<name>`): deliberately not resources of this program. A SecureString
managed here would have its decrypted value read into the Pulumi state by every refresh
(`refresh: always`), placeholder or not; `sweep params set-secret` creates and updates them, and
the program only grants the worker read access to that path (`policies.worker_policy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from sweep_contracts.settings import SystemSettings


@dataclass(frozen=True)
class StageParametersArgs:
    prefix: str
    settings: SystemSettings
    tags: dict[str, str]
    experiments: dict[str, str] = field(default_factory=dict)
    """Experiment defaults: parameter name under the prefix (`experiments/<name>/<key>`) → text."""
    bindings: dict[str, str] = field(default_factory=dict)
    """Secret bindings: parameter name under the prefix (`secret-bindings/<name>`) → JSON text."""


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
                overwrite=True,
                description=str(described[setting]["description"]),
                tags=args.tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for setting, value in args.settings.values().items()
        }
        self.experiments = self._strings(
            name,
            args,
            args.experiments,
            "A stage default of an experiment, merged under each request's config at submit.",
        )
        self.bindings = self._strings(
            name,
            args,
            args.bindings,
            "Where a secret may go: its endpoints and header (docs/deploy.md, Secret bindings).",
        )
        self.register_outputs({"prefix": args.prefix})

    def _strings(
        self, name: str, args: StageParametersArgs, texts: Mapping[str, str], description: str
    ) -> dict[str, aws.ssm.Parameter]:
        """One String parameter under the stage's prefix per (relative name, text)."""
        return {
            parameter: aws.ssm.Parameter(
                f"{name}-{parameter.replace('/', '-')}",
                name=f"{args.prefix}{parameter}",
                type="String",
                value=text,
                overwrite=True,
                description=description,
                tags=args.tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for parameter, text in texts.items()
        }
