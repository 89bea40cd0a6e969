"""`make` installs uv into `.tools/` when none is on PATH (issue 23, item 3): with the host Python's pip,
unpacked by `pip install --target .tools/uv` and linked as `.tools/bin/uv`, no venv; without a pip, a venv
as before. The Pythons here are fakes that record what they are asked and lay out what pip would."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE = """#!/bin/bash
# a Python as the Makefile calls it: `-m pip --version`, `-m pip install … --target DIR uv`, `-m venv DIR`
echo "$*" >> "{log}"
fake_uv() {{ mkdir -p "$1"; printf '#!/bin/sh\\necho uv-fake\\n' > "$1/uv"; chmod +x "$1/uv"; }}
if [ "$1 $2 $3" = "-m pip --version" ]; then exit {pip_status}; fi
if [ "$1 $2 $3" = "-m pip install" ]; then
    target=""; prev=""
    for a in "$@"; do [ "$prev" = "--target" ] && target=$a; prev=$a; done
    if [ -n "$target" ]; then fake_uv "$target/bin"; exit 0; fi
    fake_uv "$(dirname "$0")"; exit 0
fi
if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; exit 0; fi
exit 3
"""


def bootstrap(tmp_path: Path, pip_status: int) -> tuple[Path, list[str]]:
    """`make .tools/bin/uv` in a folder holding the Makefile, uv off PATH, with a fake `PYTHON`."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(ROOT / "Makefile", tree / "Makefile")
    log = tmp_path / "calls.log"
    python = tmp_path / "python"
    python.write_text(FAKE.format(log=log, pip_status=pip_status))
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "uv").exists())
    done = subprocess.run(
        ["make", f"PYTHON={python}", f"{tree}/.tools/bin/uv"],
        cwd=tree, env={**os.environ, "PATH": path}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return tree, log.read_text().splitlines()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_with_a_pip_uv_is_unpacked_into_tools_without_a_venv_23(tmp_path: Path) -> None:
    # GIVEN a host Python with a pip, and no uv on PATH
    # WHEN make needs uv
    tree, calls = bootstrap(tmp_path, pip_status=0)
    # THEN pip unpacks uv into .tools/uv, .tools/bin/uv links to its binary, and no venv is made
    assert not any(call.startswith("-m venv") for call in calls), calls
    assert any("--target .tools/uv uv" in call for call in calls), calls
    link = tree / ".tools" / "bin" / "uv"
    assert link.is_symlink()
    assert os.readlink(link) == "../uv/bin/uv"
    assert subprocess.run([link], capture_output=True, text=True, check=True).stdout == "uv-fake\n"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_without_a_pip_uv_goes_into_a_venv_as_before_23(tmp_path: Path) -> None:
    # GIVEN a host Python without a pip
    # WHEN make needs uv
    tree, calls = bootstrap(tmp_path, pip_status=1)
    # THEN .tools is a venv whose pip installs uv
    assert calls[:2] == ["-m pip --version", "-m venv .tools"], calls
    assert (tree / ".tools" / "bin" / "python").exists()
    uv = tree / ".tools" / "bin" / "uv"
    assert not uv.is_symlink()
    assert subprocess.run([uv], capture_output=True, text=True, check=True).stdout == "uv-fake\n"
