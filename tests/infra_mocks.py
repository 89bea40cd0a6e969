"""Runs the real Pulumi program (pulumi/__main__.py) for one stack under `pulumi.runtime.set_mocks`
and prints every resource it registers, with its inputs, as JSON. No Pulumi CLI, no AWS.

    python -m tests.infra_mocks dev ARTIFACTS_DIR [KEY=VALUE …]     # overrides; VALUE <unset> removes KEY

The config is the real `Pulumi.<stack>.yaml`. Each stack runs in its own process: Pulumi's runtime
keeps one root stack resource per process."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from typing import Any

import pulumi
import yaml

ROOT = Path(__file__).resolve().parents[1]
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker of a secret value on the wire


def unwrap(value: Any, path: str, secrets: list[str]) -> Any:
    """Plain values for assertions; the paths of secret ones are noted."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            secrets.append(path)
            return unwrap(value["value"], path, secrets)
        return {k: unwrap(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    return value


ACCOUNT, REGION = "123456789012", "us-east-1"


class Recorder(pulumi.runtime.Mocks):
    """Answers like AWS would (ARNs, names, endpoints) and remembers every resource."""

    def __init__(self) -> None:
        self.resources: list[dict[str, Any]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        out = dict(inputs)
        name = inputs.get("name") or args.name
        kind = args.typ
        if kind == "aws:s3/bucket:Bucket":
            out.update(bucket=f"{args.name}-a1b2c3", arn=f"arn:aws:s3:::{args.name}-a1b2c3")
        elif kind == "aws:lambda/function:Function":
            out["arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        elif kind == "aws:cloudwatch/logGroup:LogGroup":
            out["arn"] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
        elif kind == "aws:kms/key:Key":
            out.update(key_id=f"{args.name}-id", arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{args.name}-id")
        elif kind == "aws:iam/role:Role":
            out["arn"] = f"arn:aws:iam::{ACCOUNT}:role/{args.name}"
        elif kind == "aws:apigatewayv2/api:Api":
            out.update(
                api_endpoint="https://abc123.execute-api.us-east-1.amazonaws.com",
                execution_arn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123",
            )
        secrets: list[str] = []
        self.resources.append(
            {"type": kind, "name": args.name, "inputs": unwrap(inputs, "", secrets), "secret_inputs": secrets}
        )
        return f"{args.name}-id", out

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/ci", "userId": "AIDA", "id": ACCOUNT}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"}
        return {}


def stack_config(stack: str, overrides: dict[str, str]) -> dict[str, str]:
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    flat = {
        k: json.dumps(v) if isinstance(v, dict | list) else str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in raw.items()
    }
    return {**flat, **overrides}


def run(stack: str, overrides: dict[str, str]) -> dict[str, Any]:
    recorder = Recorder()
    config = {k: v for k, v in stack_config(stack, overrides).items() if v != "<unset>"}
    pulumi.runtime.set_all_config(config)
    pulumi.runtime.set_mocks(recorder, project="sweep", stack=stack, preview=False)
    exported: dict[str, Any] = {}
    ignored: dict[str, list[str]] = {}

    retained: list[str] = []

    def record_options(args: pulumi.ResourceTransformationArgs) -> None:
        if args.opts and args.opts.ignore_changes:
            ignored[args.name] = list(args.opts.ignore_changes)
        if args.opts and args.opts.retain_on_delete:
            retained.append(args.name)

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        pulumi.runtime.register_stack_transformation(record_options)
        namespace = runpy.run_path(str(ROOT / "pulumi" / "__main__.py"), run_name="__main__")
        outputs = namespace["stack"].outputs
        return pulumi.Output.all(**outputs).apply(exported.update)

    program()
    return {"resources": recorder.resources, "outputs": exported, "ignore_changes": ignored, "retained": retained}


def main() -> None:
    stack, artifacts, *pairs = sys.argv[1:]
    overrides = {"sweep:artifactsDir": artifacts, **dict(p.split("=", 1) for p in pairs)}
    try:
        result = run(stack, overrides)
    except Exception as exc:  # report, don't trace: the tests read the message
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
