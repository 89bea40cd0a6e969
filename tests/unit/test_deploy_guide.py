"""docs/deploy.md says what runs: its caller policy has what Athena needs (its make targets exist:
tests/functional/test_make_targets.py)."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import yaml

from sweep_infra.price_region import price_region_problem

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "deploy.md").read_text()


def caller_policies() -> list[dict[str, dict[str, Any]]]:
    """The guide's policies for submitters and for settings admins, each as its statements by Sid."""
    section = GUIDE.split("## Granting a caller access", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```json\n(.*?)\n```", section, re.DOTALL)
    assert len(blocks) == 2
    return [{statement["Sid"]: statement for statement in json.loads(b)["Statement"]} for b in blocks]


def caller_policy() -> dict[str, dict[str, Any]]:
    return caller_policies()[0]


def may_invoke(policy: dict[str, dict[str, Any]], method: str, path: str) -> bool:
    """IAM's match of an `execute-api:Invoke` on this route ($default stage): `*` and `?` match any
    characters, `/` included (IAM's wildcards, as fnmatch's)."""
    arn = f"arn:aws:execute-api:<region>:<account>:<api-id>/$default/{method}{path}"
    for statement in policy.values():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if "execute-api:Invoke" in actions and any(fnmatch.fnmatchcase(arn, r) for r in resources):
            return True
    return False


def test_submitters_may_use_every_run_route_but_not_change_settings() -> None:
    submitters, admins = caller_policies()
    for method, path in [
        ("POST", "/runs"),
        ("GET", "/runs"),
        ("GET", "/runs/study-1"),
        ("POST", "/runs/study-1/retry"),
        ("GET", "/settings"),
    ]:
        assert may_invoke(submitters, method, path), (method, path)
    for path in ("/settings/max_points", "/settings/secrets.api_key.endpoints", "/settings/experiments.maze.size"):
        assert not may_invoke(submitters, "PUT", path)
        assert may_invoke(admins, "PUT", path)
    assert not any("ssm:PutParameter" in str(s["Action"]) for s in submitters.values())


def test_the_caller_policy_lets_athena_read_partitions_and_write_results_in_parts() -> None:
    statements = caller_policy()
    assert "glue:GetPartitions" in statements["ReadTheCatalog"]["Action"]
    assert statements["AthenaResults"]["Resource"] == "arn:aws:s3:::<results-bucket>/athena/*"
    assert set(statements["AthenaResults"]["Action"]) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    }
    assert set(statements["ListResults"]["Action"]) == {
        "s3:ListBucket",
        "s3:GetBucketLocation",
        "s3:ListBucketMultipartUploads",
    }


def test_the_guides_stage_in_another_region_passes_the_price_check_and_fails_without_saying_so(
    tmp_path: Path,
) -> None:
    section = GUIDE.split("### Prices of another region", 1)[1].split("\n## ", 1)[0]
    config = yaml.safe_load(re.findall(r"```yaml\n(.*?)\n```", section, re.DOTALL)[0])
    (tmp_path / "Pulumi.eu.yaml").write_text(yaml.safe_dump(config))
    assert price_region_problem(tmp_path, "eu") is None
    del config["config"]["sweep:pricesRegion"]
    (tmp_path / "Pulumi.eu.yaml").write_text(yaml.safe_dump(config))
    assert (price_region_problem(tmp_path, "eu") or "").startswith("Pulumi.eu.yaml deploys to eu-central-1")
