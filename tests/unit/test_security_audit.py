"""`make lint`'s dependency audit (tools/security.py) tells what it did: a known vulnerability fails,
an audit that did not run says so and passes (lint works offline), a pip-audit that breaks fails.
pip-audit itself is replaced by its answers, recorded from pip-audit 2.10 (its JSON report, and the
last line of its stderr when PyPI's JSON API answered a 5xx)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICE_ERROR = "pip_audit._service.interface.ServiceError"


def security() -> Any:
    spec = importlib.util.spec_from_file_location("security_under_test", ROOT / "tools/security.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_audit(monkeypatch: pytest.MonkeyPatch, answers: list[tuple[str, str]]) -> tuple[int, int]:
    """The audit's exit code and how many times pip-audit ran, each run answering the next of
    `answers` (stdout, stderr); `uv export` writes nothing."""
    module = security()
    runs = []

    def run(args: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        if "pip_audit" not in args:
            return subprocess.CompletedProcess(args, 0, "", "")
        stdout, stderr = answers[min(len(runs), len(answers) - 1)]
        runs.append(args)
        return subprocess.CompletedProcess(args, 1, stdout, stderr)

    monkeypatch.setattr(module.subprocess, "run", run)
    monkeypatch.setattr(module.time, "sleep", lambda _: None)
    return module.audit(), len(runs)


def report(*deps: dict[str, Any]) -> str:
    return json.dumps({"dependencies": list(deps), "fixes": []})


def test_a_known_vulnerability_fails(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    vulnerable = {"name": "jinja2", "version": "2.0", "vulns": [{"id": "PYSEC-2019-217"}]}
    assert run_audit(monkeypatch, [(report(vulnerable, {"name": "six", "version": "1.17.0", "vulns": []}), "")]) == (
        1,
        1,
    )
    assert "jinja2 2.0: PYSEC-2019-217" in capsys.readouterr().out


def test_a_service_error_is_tried_again_and_then_reported_as_not_audited(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN PyPI's JSON API answering 5xx every time (pip-audit stops with a ServiceError, no report)
    code, runs = run_audit(monkeypatch, [("", f"Traceback …\n{SERVICE_ERROR}")])
    # THEN it is asked 3 times, and the check passes saying nothing was audited (not "0 vulnerabilities")
    assert (code, runs) == (0, 3)
    assert "NOT audited" in capsys.readouterr().out


def test_a_service_error_once_then_an_answer_audits(monkeypatch: pytest.MonkeyPatch) -> None:
    vulnerable = {"name": "jinja2", "version": "2.0", "vulns": [{"id": "PYSEC-2019-217"}]}
    assert run_audit(monkeypatch, [("", SERVICE_ERROR), (report(vulnerable), "")]) == (1, 2)


def test_pip_audit_breaking_otherwise_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_audit(monkeypatch, [("", "ModuleNotFoundError: No module named 'pip_audit'")]) == (1, 1)
