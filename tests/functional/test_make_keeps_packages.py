"""`make install` (the first step of `make run`, `make test`, …) keeps a package the user installed
next to sweep, such as their own experiment (issue 10): it must not silently uninstall it."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs make and uv: not in `make test-fast`

ROOT = Path(__file__).parents[2]


def test_make_install_keeps_a_package_the_user_installed() -> None:
    # GIVEN a package installed into sweep's environment that uv.lock knows nothing about
    site = Path(sysconfig.get_paths()["purelib"])
    info = site / "user_experiment_probe-1.0.dist-info"
    module = site / "user_experiment_probe.py"
    info.mkdir()
    try:
        module.write_text("VALUE = 1\n")
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: user-experiment-probe\nVersion: 1.0\n")
        (info / "INSTALLER").write_text("uv\n")
        (info / "RECORD").write_text(
            "user_experiment_probe.py,,\nuser_experiment_probe-1.0.dist-info/METADATA,,\n"
            "user_experiment_probe-1.0.dist-info/INSTALLER,,\nuser_experiment_probe-1.0.dist-info/RECORD,,\n"
        )
        # WHEN the make target that every other target starts with runs
        result = subprocess.run(
            ["make", "-C", str(ROOT), "install"], capture_output=True, text=True, timeout=300, check=False
        )
        # THEN it succeeds and the package is still installed
        assert result.returncode == 0, result.stdout + result.stderr
        assert module.exists(), result.stdout + result.stderr
        assert (info / "METADATA").exists(), result.stdout + result.stderr
    finally:
        shutil.rmtree(info, ignore_errors=True)
        module.unlink(missing_ok=True)
