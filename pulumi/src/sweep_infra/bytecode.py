"""Bytecode for the Lambda artifacts, compiled by the runtime's own CPython.

A function whose package has no `.pyc` compiles every module it imports at every cold start, and
keeps none of it: `/var/task` is read-only. The pycs must come from the runtime's minor version (a
3.11 pyc is ignored by 3.12) and be `unchecked-hash`: the zip's timestamps are fixed to 1980, so a
timestamp pyc would never match its source, and nothing in `/var/task` changes after deployment.

Reproducible: `PYTHONHASHSEED=0` fixes the order of set constants, and the file names inside the
code objects are the deployed paths (`/var/task/…`), not the build directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sweep_infra.errors import PackagingError

LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks a zip function: the paths in tracebacks


def interpreter(version: str) -> Path | None:
    """A CPython `version` ("3.12") on this machine: this one, uv's, one on PATH, or pyenv's."""
    if version == f"{sys.version_info.major}.{sys.version_info.minor}":
        return Path(sys.executable)
    candidates = [_uv_find(version), shutil.which(f"python{version}")]
    # pyenv's shims answer only for the selected version, and they are first on PATH, where uv looks
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates += sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"), reverse=True)
    return next((Path(c) for c in candidates if c and _is_version(c, version)), None)


def _uv_find(version: str) -> str | None:
    uv = os.environ.get("UV") or shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(uv).exists():
        return None
    found = subprocess.run(  # noqa: S603
        [uv, "python", "find", "--no-project", version], capture_output=True, text=True, check=False, timeout=60
    )
    path = found.stdout.strip()
    return path if found.returncode == 0 and path else None


def _is_version(python: str, version: str) -> bool:
    try:
        said = subprocess.run(  # noqa: S603
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2], sys.implementation.name)"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except OSError:
        return False
    return said.returncode == 0 and said.stdout.split() == [version, "cpython"]


def compile_tree(site: Path, python: Path) -> None:
    """Compile every `.py` under `site` next to it (`__pycache__/*.cpython-3XX.pyc`)."""
    args = [str(python), "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0"}
    done = subprocess.run(  # noqa: S603
        [*args, "-s", str(site), "-p", LAMBDA_TASK_ROOT, str(site)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=1800,
    )
    if done.returncode != 0:
        raise PackagingError(
            f"`{python} -m compileall` could not compile the artifact's modules:\n"
            f"{(done.stdout + done.stderr).strip()[-2000:]}"
        )


def missing(version: str) -> str:
    """The one line `make package` prints when no CPython `version` is here to compile with."""
    return (
        f"warning: no CPython {version} found (uv python find, python{version} on PATH, pyenv): the artifacts ship "
        f"without bytecode, so every cold start compiles the modules it imports (~0.3 s for the worker). "
        f"Fix: `uv python install {version}`, then `make package` again."
    )
