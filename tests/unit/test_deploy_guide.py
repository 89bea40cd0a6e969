"""docs/deploy.md says what runs: its caller policy has what Athena needs, its make targets exist."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "deploy.md").read_text()


def caller_policy() -> dict[str, dict[str, Any]]:
    section = GUIDE.split("## Granting a caller access", 1)[1]
    block = re.search(r"```json\n(.*?)\n```", section, re.DOTALL)
    assert block is not None
    policy = json.loads(block.group(1))
    return {statement["Sid"]: statement for statement in policy["Statement"]}


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


def test_every_make_target_the_guide_uses_exists() -> None:
    listed = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60)
    targets = set(re.findall(r"make (\S+)", listed.stdout))
    used = set(re.findall(r"`make ([a-z0-9-]+)", GUIDE)) | set(re.findall(r"^make ([a-z0-9-]+)", GUIDE, re.MULTILINE))
    assert used
    assert sorted(used - targets) == []
