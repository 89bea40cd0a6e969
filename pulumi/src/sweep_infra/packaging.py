"""Lambda artifacts, built from the workspace: a function's package and its locked dependencies as
manylinux_2_28 aarch64 wheels for CPython 3.12, pruned, in a deterministic zip — an unchanged tree
gives a byte-identical artifact, so Pulumi sees no diff.

    uv run python -m sweep_infra.packaging --out build/lambda --stack dev   # what `make package` runs

Three functions: the orchestrator (API, dispatch, reconciler; no Optuna), the worker, and the search
function (the orchestrator's package with its `search` extra: Optuna, numpy). The stack's experiment
packages (`sweep:experimentPackages`, see `experiment_packages`) go into the worker with their
dependencies and into the orchestrator and the search function alone (config validation only).

Determinism: entries sorted, timestamps fixed (1980-01-01), permissions normalised, no installer
records (RECORD, INSTALLER, REQUESTED, direct_url.json), and only the bytecode compiled here by the
runtime's CPython (see `bytecode`), reproducible too. Package metadata (METADATA, entry_points.txt)
stays: the experiment registry reads its entry points.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sweep_contracts import packages
from sweep_infra import bytecode, experiment_packages
from sweep_infra.errors import PackagingError

LAMBDA_PLATFORM = "aarch64-manylinux_2_28"
LAMBDA_PYTHON = "3.12"
UNZIPPED_LIMIT = 250 * 1024 * 1024  # Lambda's limit for a function and its layers, unzipped
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # larger zips must come from S3
FIXED_TIME = (1980, 1, 1, 0, 0, 0)

_INSTALLER_RECORDS = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "uv_cache.json", "uv_build.json"}
_PRUNED_DIRS = {"__pycache__", "bin"}
_PRUNED_SUFFIXES = (".pyc", ".pyo", ".pyx", ".pxd", ".pxi")
# pyarrow's C++ headers, Cython sources and tests: needed to build against pyarrow, not to run it
_PRUNED_PATHS = ("pyarrow/include", "pyarrow/src", "pyarrow/tests")
# packages whose every `tests/` folder goes: numpy's suites (14 MiB of the search artifact's 35 MiB of
# numpy) are run by `numpy.test()`, never imported by numpy or by anything sweep ships
_PRUNED_TEST_DIRS = ("numpy",)

# Optuna's hard dependencies that no path of the search function imports, left out of its artifact
# (55.2 MiB zipped, 144.5 MiB unzipped with them and numpy's tests; 41.4 and 96.8 without: bench/RESULTS.md).
# The function keeps its studies in memory (`optuna.create_study()` without a storage, rebuilt at each
# step: `sweep_orchestrator.search.optimiser`). `import optuna` itself imports colorlog, tqdm, numpy and
# packaging, which stay. Distribution -> the module it installs, which
# `tests/functional/test_search_left_out.py` hides while every sampler asks and is told rounds and the
# importances are computed (no import of one may be attempted), and which the search artifact's steps
# under AWS's runtime client (`tests/functional/test_artifacts_under_ric.py`) run without.
SEARCH_LEFT_OUT = {
    # Optuna's RDB storage (`optuna.storages.RDBStorage`, a database URL) imports these when one is built
    "sqlalchemy": "sqlalchemy",
    "alembic": "alembic",  # the RDB storage's schema migrations
    "mako": "mako",  # alembic's migration templates
    "markupsafe": "markupsafe",  # mako's escaping
    # Optuna reads YAML only in its command line (`optuna.cli`); sweep's own YAML (stack config, sweep
    # files) is read by the CLI and Pulumi, never by a function: the orchestrator's artifact has none either
    "pyyaml": "yaml",
}


@dataclass(frozen=True)
class FunctionPackage:
    """Which workspace member a function runs, and the workspace packages it ships."""

    name: str
    member: str
    workspace: tuple[str, ...]
    left_out_extras: tuple[str, ...] = ()
    """Optional dependencies of `member` the function does not ship (`uv export --no-extra`)."""
    left_out: tuple[str, ...] = ()
    """Locked distributions the function does not ship although a dependency declares them: none of
    its paths imports them (`SEARCH_LEFT_OUT` says why for each)."""


FUNCTIONS = {
    "orchestrator": FunctionPackage(
        "orchestrator",
        packages.DISTRIBUTIONS["sweep_orchestrator"],
        ("libs/sweep_contracts", "libs/sweep_aws", "libs/sweep_experiments", "services/orchestrator"),
        # a search's Optuna (with numpy) stays out: the API's function keeps its lean cold start;
        # a search's rounds are stepped by the search function, which ships it
        left_out_extras=("search",),
    ),
    "search": FunctionPackage(
        "search",
        packages.DISTRIBUTIONS["sweep_orchestrator"],
        ("libs/sweep_contracts", "libs/sweep_aws", "libs/sweep_experiments", "services/orchestrator"),
        left_out=tuple(SEARCH_LEFT_OUT),
    ),
    "worker": FunctionPackage(
        "worker",
        packages.DISTRIBUTIONS["sweep_worker"],
        ("libs/sweep_contracts", "libs/sweep_aws", "libs/sweep_experiments", "services/worker"),
    ),
}


@dataclass(frozen=True)
class Artifact:
    name: str
    path: Path
    sha256: str
    zipped_bytes: int
    unzipped_bytes: int
    compiled: bool = False  # this build compiled the runtime's bytecode in (`bytecode.compile_tree`)

    @property
    def key(self) -> str:
        """Content-addressed object key: a new key exactly when the content changes."""
        return f"lambda/{self.name}-{self.sha256[:32]}.zip"


def _run(args: list[str], cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise PackagingError(f"`{' '.join(args)}` failed:\n{result.stderr.strip()[-2000:]}")
    return result.stdout


def _uv() -> str:
    """The uv running us (`uv run` sets $UV), else one on PATH or beside this Python."""
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(Path(sys.executable).parent / "uv")):
        if candidate and Path(candidate).exists():
            return candidate
    raise PackagingError(
        "uv is needed to build the Lambda artifacts, and none was found ($UV, PATH, beside this Python).",
        field="uv",
        hint="`make install` provides it.",
    )


def install(
    function: FunctionPackage,
    root: Path,
    target: Path,
    platform: str,
    python: str,
    experiments: Sequence[str] = (),
) -> None:
    """The member's locked third-party dependencies as binary wheels for `platform`, then the
    workspace packages themselves (pure Python) without dependencies, then the stage's experiment
    packages: with their dependencies (within the lock) for the worker, alone for the orchestrator."""
    uv = _uv()
    requirements = target.parent / f"{function.name}-requirements.txt"
    exported = _run(
        [
            uv,
            "export",
            "--frozen",
            "--package",
            function.member,
            "--no-dev",
            "--all-extras",  # a function runs everything: the AWS adapters, the LLM client (issue 23)
            *[arg for extra in function.left_out_extras for arg in ("--no-extra", extra)],
            "--no-editable",
            "--no-hashes",
            "--no-emit-workspace",
            "--no-header",
            "--quiet",
        ],
        root,
    )
    requirements.write_text(leave_out(exported, function))
    common = ["--target", str(target), "--python-platform", platform, "--python-version", python, "--quiet"]
    _run([uv, "pip", "install", *common, "--only-binary", ":all:", "--no-deps", "-r", str(requirements)], root)
    _run(
        [uv, "pip", "install", *common, "--no-deps", "--reinstall", *[str(root / p) for p in function.workspace]], root
    )
    wheels = experiment_packages.build_wheels(uv, root, experiments, target.parent / f"{function.name}-wheels")
    experiment_packages.install(uv, root, wheels, common, requirements, function.name == "worker", platform, python)
    shutil.rmtree(target.parent / f"{function.name}-wheels", ignore_errors=True)


def _requirement_name(line: str) -> str:
    """The normalised distribution name of one `uv export` line (`name==1.0 ; marker`)."""
    name = line.split(";", maxsplit=1)[0].split("==", maxsplit=1)[0].strip()
    return name.lower().replace("_", "-").replace(".", "-")


def leave_out(exported: str, function: FunctionPackage) -> str:
    """`exported` without the requirements `function.left_out` names; each must be there, so that a
    name left stale by a dependency's change (or misspelt) stops the build instead of doing nothing."""
    lines = exported.splitlines()
    present = {_requirement_name(line) for line in lines if line.strip() and not line.lstrip().startswith("#")}
    stale = sorted(set(function.left_out) - present)
    if stale:
        raise PackagingError(
            f"the {function.name} artifact is to leave out {', '.join(stale)}, which its locked dependencies "
            "no longer include.",
            field=f"{function.name} left_out",
            value=stale,
            hint="Remove the name from the function's `left_out` in sweep_infra/packaging.py (or fix its spelling).",
        )
    kept = [
        line
        for line in lines
        if line.lstrip().startswith("#") or not line.strip() or _requirement_name(line) not in function.left_out
    ]
    return "\n".join(kept) + "\n"


def prune(site: Path) -> None:
    (site / ".lock").unlink(missing_ok=True)  # uv's lock on the target directory
    for relative in _PRUNED_PATHS:
        shutil.rmtree(site / relative, ignore_errors=True)
    for package in _PRUNED_TEST_DIRS:
        for tests in sorted((site / package).rglob("tests"), reverse=True):
            if tests.is_dir():
                shutil.rmtree(tests)
    for path in sorted(site.rglob("*"), reverse=True):
        if path.is_dir() and path.name in _PRUNED_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and (
            path.suffix in _PRUNED_SUFFIXES
            or (path.parent.name.endswith(".dist-info") and path.name in _INSTALLER_RECORDS)
        ):
            path.unlink()


def deterministic_zip(site: Path, destination: Path) -> int:
    """Zip `site` reproducibly; returns the unzipped size."""
    files = sorted(p for p in site.rglob("*") if p.is_file())
    unzipped = 0
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in files:
            name = path.relative_to(site).as_posix()
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            executable = ".so" in path.name
            info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
            info.create_system = 3  # unix, whatever built it
            data = path.read_bytes()
            unzipped += len(data)
            archive.writestr(info, data, compresslevel=6)
    return unzipped


def build(
    name: str,
    root: Path,
    out: Path,
    platform: str = LAMBDA_PLATFORM,
    python: str = LAMBDA_PYTHON,
    experiments: Sequence[str] = (),
    limit: int = UNZIPPED_LIMIT,
) -> Artifact:
    """Build `out/<name>.zip` for one function, with the stage's experiment packages."""
    function = FUNCTIONS[name]
    out.mkdir(parents=True, exist_ok=True)
    site = out / f"{name}-site"
    shutil.rmtree(site, ignore_errors=True)
    install(function, root, site, platform, python, experiments)
    prune(site)
    compiler = bytecode.interpreter(python)
    if compiler is not None:
        bytecode.compile_tree(site, compiler)
    path = out / f"{name}.zip"
    unzipped = deterministic_zip(site, path)
    largest = _largest(site)
    shutil.rmtree(site)
    if unzipped > limit:
        path.unlink()
        raise PackagingError(
            f"the {name} artifact would be {_mib(unzipped)} unzipped, {_mib(unzipped - limit)} over Lambda's "
            f"{_mib(limit)} limit for a function and its layers (largest: {largest}).",
            field=f"{name} artifact",
            value=unzipped,
            limit=limit,
            hint="Ship fewer or lighter dependencies (drop one from an experiment package in "
            "`sweep:experimentPackages`, or import a smaller one), or move a large dependency into a container "
            "image function: a Lambda layer counts toward the same limit.",
        )
    experiment_packages.record(out, experiments)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Artifact(name, path, digest, path.stat().st_size, unzipped, compiled=compiler is not None)


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _largest(site: Path, count: int = 3) -> str:
    """The top-level entries that weigh most, unzipped: where to cut."""
    sizes = {
        entry.name: sum(p.stat().st_size for p in entry.rglob("*") if p.is_file())
        if entry.is_dir()
        else entry.stat().st_size
        for entry in site.iterdir()
        if not entry.name.endswith(".dist-info")
    }
    top = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:count]
    return ", ".join(f"{name} {_mib(size)}" for name, size in top)


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "uv.lock").is_file() and (parent / "Pulumi.yaml").is_file():
            return parent
    raise PackagingError("cannot find the repository root (uv.lock beside Pulumi.yaml) above " + str(here))


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the Lambda artifacts.")
    parser.add_argument("--out", type=Path, default=Path("build/lambda"))
    parser.add_argument("--platform", default=LAMBDA_PLATFORM, help="uv --python-platform (default: Lambda's)")
    parser.add_argument("--python", default=LAMBDA_PYTHON, help="Python version (default: Lambda's)")
    parser.add_argument("--stack", help="the stack whose `sweep:experimentPackages` to ship (make: STACK=dev)")
    parser.add_argument("functions", nargs="*", help=f"which to build: {', '.join(FUNCTIONS)} (default: all)")
    args = parser.parse_args()
    unknown = [f for f in args.functions if f not in FUNCTIONS]
    if unknown:
        parser.error(f"unknown function {unknown[0]!r}; choose from {', '.join(FUNCTIONS)}")
    try:
        _build_all(args)
    except PackagingError as exc:  # the user's to fix: one paragraph, no traceback
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    sys.stdout.flush()
    os.sync()


def _build_all(args: argparse.Namespace) -> None:
    root = repo_root()
    experiments = experiment_packages.declared(root, args.stack)
    if experiments:
        print(f"experiment packages of stack `{args.stack}`: {', '.join(experiments)}")
    print(f"{'function':<13} {'zipped':>10} {'unzipped':>10}  sha256")
    compiled = True
    for name in args.functions or list(FUNCTIONS):
        out = args.out if args.out.is_absolute() else root / args.out
        artifact = build(name, root, out, args.platform, args.python, experiments)
        compiled &= artifact.compiled
        print(
            f"{name:<13} {artifact.zipped_bytes / 2**20:>8.1f}Mi {artifact.unzipped_bytes / 2**20:>8.1f}Mi  "
            f"{artifact.sha256}  {artifact.path}"
        )
    if not compiled:
        print(bytecode.missing(args.python), file=sys.stderr)


if __name__ == "__main__":
    main()
