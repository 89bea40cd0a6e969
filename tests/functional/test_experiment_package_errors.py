"""A stage's experiment packages that cannot ship to Lambda stop `make package` with one paragraph
naming the package and the fix, exit 2, no traceback (issue 10). Real uv, real builds; the
package index is a local directory (`--no-index --find-links`), so nothing leaves this machine."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from sweep_infra import experiment_packages, packaging
from sweep_infra.errors import PackagingError

ROOT = Path(__file__).resolve().parents[2]
PLATFORM, PYTHON = packaging.LAMBDA_PLATFORM, packaging.LAMBDA_PYTHON


def sdist_only(index: Path, name: str = "sweep-test-cext", version: str = "1.0") -> Path:
    """An index holding only the source of a package with C code: no wheel for any platform."""
    index.mkdir(parents=True, exist_ok=True)
    stem = f"{name.replace('-', '_')}-{version}"
    files = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        "pyproject.toml": '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n',
        "setup.py": 'from setuptools import setup, Extension\nsetup(ext_modules=[Extension("cext", ["m.c"])])\n',
        "m.c": "int answer = 42;\n",
    }
    path = index / f"{stem}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for relative, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{stem}/{relative}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def project(directory: Path, name: str, setup: str | None = None) -> Path:
    """A local experiment project; with `setup`, a setuptools one (C code lives there)."""
    (directory / "src").mkdir(parents=True)
    if setup is None:
        (directory / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "0.1"\nrequires-python = ">=3.11"\n[build-system]\nrequires = ["hatchling"]\n'
            f'build-backend = "hatchling.build"\n[tool.hatch.build.targets.wheel]\npackages = ["src/{name}"]\n'
        )
        (directory / "src" / name).mkdir()
        (directory / "src" / name / "__init__.py").write_text("")
    else:
        (directory / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "0.1"\n[build-system]\nrequires = ["setuptools"]\n'
            'build-backend = "setuptools.build_meta"\n'
        )
        (directory / "setup.py").write_text(setup)
        (directory / "m.c").write_text("int answer = 42;\n")
    return directory


def test_a_dependency_without_a_wheel_for_lambda_is_named(tmp_path: Path) -> None:
    # GIVEN an index where the experiment's package exists only as source with C code
    sdist_only(tmp_path / "index")
    common = ["--target", str(tmp_path / "site"), "--python-platform", PLATFORM, "--python-version", PYTHON]
    common += ["--no-index", "--find-links", str(tmp_path / "index"), "--quiet"]
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("")
    # WHEN it is installed for the worker
    with pytest.raises(PackagingError) as caught:
        experiment_packages.install(
            packaging._uv(), ROOT, ["sweep-test-cext==1.0"], common, constraints, True, PLATFORM, PYTHON
        )
    # THEN the error names it, the platform, and what to do; one paragraph
    message = str(caught.value)
    assert message.startswith(
        "`sweep-test-cext` has no wheel for aarch64-manylinux_2_28 CPython 3.12, so the experiment packages "
        "(sweep-test-cext==1.0) cannot be installed for Lambda; nothing is compiled here."
    )
    assert "publishes such a wheel" in message
    assert "layer" in message
    assert "\n" not in message


def test_a_local_project_with_c_code_is_refused_before_it_ships(tmp_path: Path) -> None:
    # GIVEN a local experiment project that compiles an extension
    setup = 'from setuptools import setup, Extension\nsetup(ext_modules=[Extension("cext", ["m.c"])])\n'
    source = project(tmp_path / "exp", "compiled_exp", setup)
    # WHEN the stage's packages are built
    with pytest.raises(PackagingError) as caught:
        experiment_packages.build_wheels(packaging._uv(), ROOT, [str(source)], tmp_path / "wheels")
    # THEN it is named, with the wheel it built here and why that cannot run on Lambda
    message = str(caught.value)
    assert message.startswith(f"experiment package `{source}` builds a platform-specific wheel here (compiled_exp-")
    assert "cannot run on Lambda (aarch64, CPython 3.12)" in message


def test_a_local_project_builds_into_a_pure_wheel_and_a_requirement_passes_through(tmp_path: Path) -> None:
    source = project(tmp_path / "exp", "pure_exp")
    built = experiment_packages.build_wheels(packaging._uv(), ROOT, [str(source), "mypkg==1.2"], tmp_path / "w")
    assert [Path(built[0]).name, built[1]] == ["pure_exp-0.1-py3-none-any.whl", "mypkg==1.2"]


def test_a_path_that_is_no_project_is_named(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match=r"^experiment package `examples/nowhere` is no Python project"):
        experiment_packages.build_wheels(packaging._uv(), ROOT, ["examples/nowhere"], tmp_path / "w")


def test_the_dev_stack_declares_the_sample_experiment() -> None:
    assert experiment_packages.declared(ROOT, "dev") == ("examples/sample-experiment",)
    assert experiment_packages.declared(ROOT, "prod") == ()
    assert experiment_packages.declared(ROOT, None) == ()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("examples/sample-experiment", "it must be a list of local project paths and requirement specifiers"),
        ([""], "it must be a list"),
        (["--index-url=http://elsewhere"], "which is an option, not a package"),
        (["mypkg==1.2", "mypkg==1.2"], "names a package twice"),
    ],
)
def test_a_wrong_declaration_says_what_to_write(value: object, says: str) -> None:
    with pytest.raises(PackagingError) as caught:
        experiment_packages.check(value, "dev")
    assert str(caught.value).startswith("stack config `sweep:experimentPackages` of stack `dev`")
    assert says in str(caught.value)
    assert "Fix it in Pulumi.dev.yaml" in str(caught.value)


def test_make_package_fails_with_one_paragraph_and_exit_2(tmp_path: Path) -> None:
    # WHEN the packaging command is run for a stack that has no config file
    result = subprocess.run(
        [sys.executable, "-m", "sweep_infra.packaging", "--out", str(tmp_path), "--stack", "nosuch"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=60,
    )
    # THEN exit 2, one line on stderr, no traceback
    assert result.returncode == 2
    assert result.stderr == (
        "error: there is no stack config Pulumi.nosuch.yaml for stack `nosuch`. Create the stack "
        "(`pulumi stack init nosuch`) or pass the stack that exists (STACK=dev).\n"
    )


def test_prebuilt_artifacts_with_other_experiment_packages_are_not_deployed(tmp_path: Path) -> None:
    from sweep_infra import functions

    # GIVEN artifacts built for dev, which ships the sample experiment
    for name in packaging.FUNCTIONS:
        (tmp_path / f"{name}.zip").write_bytes(b"PK")
    experiment_packages.record(tmp_path, ["examples/sample-experiment"])
    # WHEN a stack that declares no experiment packages deploys them THEN it is refused, saying how to rebuild
    with pytest.raises(PackagingError) as caught:
        functions.artifacts(str(tmp_path), ())
    assert caught.value.message == (
        f"the artifacts in {tmp_path} were built with experiment packages ['examples/sample-experiment'], but the "
        "stack declares none (`sweep:experimentPackages`)."
    )
    assert caught.value.hint == (
        "Rebuild them with `make package STACK=<this stack>`, or deploy with `make deploy STACK=<this stack>`, "
        "which does."
    )
    assert str(caught.value) == f"{caught.value.message} {caught.value.hint}"
    # AND the stack they were built for takes them
    assert set(functions.artifacts(str(tmp_path), ("examples/sample-experiment",))) == set(packaging.FUNCTIONS)
