"""The make targets the docs send a reader to exist (`make help` lists them)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def listed_targets() -> set[str]:
    listed = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60)
    return set(re.findall(r"make (\S+)", listed.stdout))


def test_every_make_target_the_guide_uses_exists() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    used = set(re.findall(r"`make ([a-z0-9-]+)", guide)) | set(re.findall(r"^make ([a-z0-9-]+)", guide, re.MULTILINE))
    assert used
    assert sorted(used - listed_targets()) == []
