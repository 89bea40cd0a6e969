"""A stage's own experiment packages, declared in its stack config and shipped with its functions:

    config:
      sweep:experimentPackages:          # Pulumi.<stage>.yaml
        - examples/sample-experiment     # a local project (a path from the repository root)
        - mypkg==1.2                     # or a requirement, resolved from the package index

The worker artifact gets each package with its dependencies, resolved by uv for Lambda's platform
under the constraints of sweep's own lock (so an experiment cannot move pydantic under sweep).
The orchestrator artifact gets each package alone (`--no-deps`): it validates configs with the
package's config model and never imports its `run` module, so the heavy dependencies stay out.

Only wheels are installed: nothing is compiled for Lambda on this machine. A local project is
built here into a wheel, which must be pure Python (`py3-none-any`); a dependency without a wheel
for the platform stops the build, naming it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sweep_contracts.stack_config import read_stack_config, stack_config_path
from sweep_infra.errors import PackagingError

CONFIG_KEY = "sweep:experimentPackages"
_NO_WHEEL = (
    re.compile(r"Wheels are required for `([^`]+)`"),
    re.compile(r"Because (?:only )?([A-Za-z0-9][A-Za-z0-9._-]*)\S* has no (?:usable |compatible )?wheels"),
    re.compile(r"Because ([A-Za-z0-9][A-Za-z0-9._-]*)\S* has no wheels with a matching"),
)


def declared(root: Path, stack: str | None) -> tuple[str, ...]:
    """`sweep:experimentPackages` of `Pulumi.<stack>.yaml`, or () without a stack or the key."""
    if stack is None:
        return ()
    config = read_stack_config(root, stack)
    if config is None:
        raise PackagingError(
            f"there is no stack config {stack_config_path(root, stack).name} for stack `{stack}`.",
            field="STACK",
            value=stack,
            hint=f"Create the stack (`pulumi stack init {stack}`) or pass the stack that exists (STACK=dev).",
        )
    return check(config.get(CONFIG_KEY) or [], stack)


def check(packages: Any, stack: str) -> tuple[str, ...]:
    """Each entry a non-empty string that is no uv option; duplicates refused."""
    fix = f"Fix it in Pulumi.{stack}.yaml: `{CONFIG_KEY}: [examples/sample-experiment, mypkg==1.2]`."
    if not isinstance(packages, list) or not all(isinstance(p, str) and p.strip() for p in packages):
        raise PackagingError(
            f"stack config `{CONFIG_KEY}` of stack `{stack}` is {packages!r}: it must be a list of local "
            "project paths and requirement specifiers.",
            field=CONFIG_KEY,
            value=packages,
            hint=fix,
        )
    found = tuple(p.strip() for p in packages)
    for package in found:
        if package.startswith("-"):
            raise PackagingError(
                f"stack config `{CONFIG_KEY}` of stack `{stack}` holds {package!r}, which is an option, not a package.",
                field=CONFIG_KEY,
                value=package,
                hint=fix,
            )
    if len(set(found)) != len(found):
        raise PackagingError(
            f"stack config `{CONFIG_KEY}` of stack `{stack}` names a package twice.", field=CONFIG_KEY, hint=fix
        )
    return found


def is_local(package: str) -> bool:
    return package.startswith((".", "/")) or "/" in package


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603


def _tail(stderr: str, lines: int = 4) -> str:
    meaningful = [line.strip() for line in stderr.splitlines() if line.strip()]
    return " ".join(meaningful[-lines:])


def build_wheels(uv: str, root: Path, packages: Sequence[str], out: Path) -> list[str]:
    """Local projects built into pure-Python wheels in `out`; requirement specifiers as they are."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    resolved: list[str] = []
    for package in packages:
        if not is_local(package):
            resolved.append(package)
            continue
        source = (root / package).resolve()
        if not (source / "pyproject.toml").is_file():
            raise PackagingError(
                f"experiment package `{package}` is no Python project: {source} has no pyproject.toml.",
                field=CONFIG_KEY,
                value=package,
                hint="Give a path from the repository root to a project directory, or a requirement such as "
                f"`mypkg==1.2`, in `{CONFIG_KEY}`.",
            )
        before = set(out.glob("*.whl"))
        result = _run([uv, "build", "--wheel", "--quiet", "--out-dir", str(out), str(source)], root)
        wheels = sorted(set(out.glob("*.whl")) - before)
        if result.returncode != 0 or len(wheels) != 1:
            raise PackagingError(
                f"experiment package `{package}` does not build into a wheel: {_tail(result.stderr)}",
                field=CONFIG_KEY,
                value=package,
                hint=f"Check that `uv build --wheel {package}` works (e.g. hatchling needs "
                f'`[tool.hatch.build.targets.wheel] packages = ["src/<module>"]` for a src layout), then run '
                "`make package` again.",
            )
        tag = wheels[0].name.removesuffix(".whl").split("-")[-3:]
        if tag[1:] != ["none", "any"]:
            raise PackagingError(
                f"experiment package `{package}` builds a platform-specific wheel here ({wheels[0].name}), which "
                "cannot run on Lambda (aarch64, CPython 3.12).",
                field=CONFIG_KEY,
                value=package,
                hint="Keep the package pure Python and move the compiled part into a dependency that publishes "
                "manylinux aarch64 wheels, or build it on arm64 into a Lambda layer.",
            )
        resolved.append(str(wheels[0]))
    return resolved


def install(
    uv: str,
    root: Path,
    packages: Sequence[str],
    common: Sequence[str],
    constraints: Path,
    with_dependencies: bool,
    platform: str,
    python: str,
) -> None:
    """Install the (built) packages into the target `common` names: wheels only, within the lock."""
    if not packages:
        return
    deps = ["--constraint", str(constraints)] if with_dependencies else ["--no-deps"]
    result = _run([uv, "pip", "install", *common, "--only-binary", ":all:", *deps, *packages], root)
    if result.returncode == 0:
        return
    names = [m.group(1) for pattern in _NO_WHEEL for m in pattern.finditer(result.stderr)]
    if names:
        raise PackagingError(
            f"`{names[0]}` has no wheel for {platform} CPython {python}, so the experiment packages "
            f"({', '.join(map(_shown, packages))}) cannot be installed for Lambda; nothing is compiled here.",
            field=CONFIG_KEY,
            value=names[0],
            hint=f"Use a version of `{names[0]}` that publishes such a wheel (see its files on PyPI), "
            "drop the dependency, or build it on arm64 into a Lambda layer.",
        )
    raise PackagingError(
        f"the experiment packages ({', '.join(map(_shown, packages))}) cannot be installed for {platform} "
        f"CPython {python}: {_tail(result.stderr)}",
        field=CONFIG_KEY,
        hint="A conflict with sweep's lock (uv.lock) is fixed by relaxing the experiment's requirement on "
        "that package.",
    )


def _shown(package: str) -> str:
    """A built wheel by its file name, a requirement as written."""
    return Path(package).name if package.endswith(".whl") else package


RECORD = "experiment-packages.json"
"""Beside the zips: which experiment packages they were built with, checked when they are deployed."""


def record(out: Path, packages: Sequence[str]) -> None:
    (out / RECORD).write_text(json.dumps({"experimentPackages": list(packages)}) + "\n")


def check_prebuilt(directory: Path, packages: Sequence[str]) -> None:
    """Prebuilt artifacts must carry the packages the stack declares: `make package STACK=dev` then
    `pulumi up --stack prod` would otherwise deploy dev's experiments to prod. Artifacts built before
    this record existed are taken as they are."""
    path = directory / RECORD
    if not path.is_file():
        return
    built = json.loads(path.read_text()).get("experimentPackages", [])
    if built != list(packages):
        raise PackagingError(
            f"the artifacts in {directory} were built with experiment packages {built or 'none'}, but the stack "
            f"declares {list(packages) or 'none'} (`{CONFIG_KEY}`).",
            field=CONFIG_KEY,
            value=list(packages),
            hint="Rebuild them with `make package STACK=<this stack>`, or deploy with `make deploy "
            "STACK=<this stack>`, which does.",
        )
