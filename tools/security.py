"""`make lint`'s security checks: a dependency audit and a secret scan of the repository.

- audit: pip-audit over the locked requirements (`uv export --frozen`), against PyPI's advisory
  data (`--vulnerability-service pypi`). A known vulnerability fails. Where the advisory service
  cannot be reached, every dependency is reported as not audited and the check says so and passes:
  lint must work offline, and saying "0 vulnerabilities" for an audit that did not run would lie.
- secrets: detect-secrets over every tracked file; a finding not in `.secrets.baseline` (where each
  accepted finding is marked `is_secret: false` after review) fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_SCANNED = ("uv.lock", "tests/events/", ".secrets.baseline")


def _uv() -> str:
    return os.environ.get("UV", "uv")


# pip-audit stops the whole audit with a ServiceError (or its subclass ConnectionError) when PyPI's JSON
# API answers other than 200 or 404 or cannot be reached, as a proxy's 5xx did in CI once: tried again,
# then reported as not audited, which is what the audit is when the service cannot be reached.
AUDIT_ATTEMPTS = 3
AUDIT_BACKOFF_S = 2.0


def _service_failed(message: str) -> bool:
    return "ServiceError" in message or "ConnectionError" in message


def audit() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        subprocess.run(  # noqa: S603 - fixed command
            [
                _uv(),
                "export",
                "--frozen",
                "--format",
                "requirements-txt",
                "--no-emit-workspace",
                "--no-hashes",
                "--quiet",
                "-o",
                str(requirements),
            ],
            cwd=ROOT,
            check=True,
        )
        for attempt in range(1, AUDIT_ATTEMPTS + 1):
            result = subprocess.run(  # noqa: S603 - fixed command
                [
                    sys.executable,
                    "-m",
                    "pip_audit",
                    "--vulnerability-service",
                    "pypi",
                    "--no-deps",
                    "--disable-pip",
                    "--progress-spinner",
                    "off",
                    "-f",
                    "json",
                    "-r",
                    str(requirements),
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            last = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
            if result.stdout.strip() or not _service_failed(last) or attempt == AUDIT_ATTEMPTS:
                break
            time.sleep(AUDIT_BACKOFF_S * attempt)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        if _service_failed(last):  # the audit did not run: said so, as when the service cannot be reached
            print(
                f"audit: the advisory service failed {AUDIT_ATTEMPTS} times ({last}); "
                "the locked dependencies were NOT audited"
            )
            return 0
        print(f"audit: pip-audit failed: {last}")
        return 1
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        print(f"audit: {dep['name']} {dep['version']}: {ids}")
    audited = len(deps) - len(skipped)
    if audited == 0 and deps:
        print(f"audit: the advisory service could not be reached; {len(deps)} locked dependencies NOT audited")
        return 0
    print(f"audit: {audited} of {len(deps)} locked dependencies audited, {len(vulnerable)} with known vulnerabilities")
    return 1 if vulnerable else 0


def secrets() -> int:
    files = subprocess.run(
        ["git", "ls-files"],  # noqa: S607 - git from PATH, like make itself
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = [f for f in files if not f.startswith(NOT_SCANNED) and (ROOT / f).is_file()]
    # A fresh scan compared with the reviewed baseline by (file, hashed secret), not by line: the
    # pre-commit hook also rewrites line numbers and fails whenever a reviewed line moves, so any
    # edit above a reviewed finding would break lint without anything new to review.
    result = subprocess.run(  # noqa: S603 - fixed command
        [sys.executable, "-m", "detect_secrets", "scan", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(result.stdout)["results"]
    baseline = json.loads((ROOT / ".secrets.baseline").read_text())["results"]
    reviewed = {
        (path, item["hashed_secret"])
        for path, items in baseline.items()
        for item in items
        if item.get("is_secret") is False
    }
    new = [
        f"{path}:{item['line_number']}: {item['type']}"
        for path, items in found.items()
        for item in items
        if (path, item["hashed_secret"]) not in reviewed
    ]
    if new:
        print("\n".join(new))
        print(
            "secrets: a possible secret is not in .secrets.baseline: remove it, or review it and add it there "
            "(`detect-secrets scan --baseline .secrets.baseline`, then mark it `is_secret: false`)"
        )
        return 1
    print(f"secrets: {len(files)} tracked files scanned, no finding outside the reviewed baseline")
    return 0


if __name__ == "__main__":
    checks = {"audit": audit, "secrets": secrets}
    sys.exit(max(checks[name]() for name in (sys.argv[1:] or list(checks))))
