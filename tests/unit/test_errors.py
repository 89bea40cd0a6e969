"""The error tree: one root, each package drawing and owning its part. Every class is drawn in the
docstring of its own package's `errors` module under its real parent, with its own code from the
code enum that package registers (`sweep_contracts.errors.register_codes`)."""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from enum import StrEnum

import pytest

from sweep_cli.errors import CliCode
from sweep_contracts.errors import ApiCode, SweepError, registered_codes
from sweep_infra.errors import InfraCode

PACKAGES = (
    "sweep_contracts",
    "sweep_aws",
    "sweep_experiments",
    "sweep_orchestrator",
    "sweep_worker",
    "sweep_cli",
    "sweep_infra",
)

OWN_CODES = {
    "sweep_contracts": "sweep_contracts.errors.ApiCode",
    "sweep_cli": "sweep_cli.errors.CliCode",
    "sweep_infra": "sweep_infra.errors.InfraCode",
}
"""Each package that defines error classes, with the code enum it registers."""

ANSWER_CODES = {"NOT_FOUND", "INTERNAL_ERROR", "FORBIDDEN", "HTTP_ERROR"}
"""Codes no class carries: the API's own answers and the remote client's."""


def every_error_class() -> list[type[SweepError]]:
    """Import every module of every package, then walk the subclasses of the root."""
    for name in PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            if not module.name.endswith(".__main__"):  # running it would run the command
                importlib.import_module(module.name)
    found: list[type[SweepError]] = []
    pending: list[type[SweepError]] = [SweepError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def package_of(cls: type) -> str:
    return cls.__module__.split(".")[0]


def drawn_tree(package: str) -> dict[str, tuple[str | None, str]]:
    """Class name -> (parent drawn above it, code drawn beside it), from the docstring of the
    package's `errors` module; `…` for a class drawn there only as the parent of its own."""
    doc = sys.modules[f"{package}.errors"].__doc__ or ""
    block = doc.split("```")[1]
    drawn: dict[str, tuple[str | None, str]] = {}
    parents: list[str] = []
    for line in block.strip("\n").splitlines():
        match = re.match(r"^([│├└─ ]*)([A-Za-z]+)\s+([A-Z_]+|…|code)", line)
        assert match, f"cannot read the tree line {line!r}"
        depth = len(match.group(1)) // 4
        del parents[depth:]
        drawn[match.group(2)] = (parents[-1] if parents else None, match.group(3))
        parents.append(match.group(2))
    return drawn


def test_every_error_class_is_drawn_under_its_real_parent_with_its_code() -> None:
    # GIVEN every subclass of SweepError in every package, and the tree each package draws
    classes = every_error_class()
    trees = {package: drawn_tree(package) for package in OWN_CODES}
    # THEN each class is drawn by its own package, under the parent it really has, with the code it really has
    for cls in classes:
        drawn = trees.get(package_of(cls), {})
        assert cls.__name__ in drawn, f"{cls.__module__}.{cls.__name__} is missing from its package's tree"
        parent, code = drawn[cls.__name__]
        real_parent = next((b.__name__ for b in cls.__bases__ if issubclass(b, SweepError)), None)
        assert parent == real_parent, f"{cls.__name__} is drawn under {parent}, but subclasses {real_parent}"
        assert cls.code == code, f"{cls.__name__} has code {cls.code}, drawn as {code}"
    # AND the trees draw nothing that does not exist: a package draws another's class only as a parent (`…`)
    defined = {cls.__name__: package_of(cls) for cls in classes}
    for package, drawn in trees.items():
        for name, (_parent, code) in drawn.items():
            assert name in defined, f"{package} draws {name}, which does not exist"
            assert (defined[name] == package) == (code not in {"…", "code"}), (package, name, code)
    assert sorted(n for drawn in trees.values() for n, (_p, c) in drawn.items() if c not in {"…", "code"}) == sorted(
        defined
    )


def test_every_error_class_has_its_own_code_from_its_package_enum() -> None:
    classes = every_error_class()
    owners = registered_codes()
    for cls in classes:
        assert isinstance(cls.code, StrEnum), f"{cls.__name__}'s code {cls.code!r} is not from a code enum"
        assert owners[cls.code] == OWN_CODES[package_of(cls)], (
            f"{cls.__name__} of {package_of(cls)} carries `{cls.code}`, owned by {owners[cls.code]}"
        )
    codes = [cls.code for cls in classes]
    assert len(set(codes)) == len(codes), sorted(codes)


def test_every_package_registers_the_enum_it_owns() -> None:
    every_error_class()
    assert set(registered_codes().values()) == set(OWN_CODES.values())


def test_a_code_another_package_registered_is_refused() -> None:
    from sweep_contracts.errors import register_codes

    # GIVEN a package's enum that reuses a code of sweep_contracts
    class Clash(StrEnum):
        RUN_NOT_FOUND = "RUN_NOT_FOUND"

    # THEN registering it fails, naming both owners
    with pytest.raises(
        ValueError, match=r"`RUN_NOT_FOUND` of .*Clash is registered by sweep_contracts\.errors\.ApiCode"
    ):
        register_codes(Clash)


@pytest.mark.parametrize("code", [*ApiCode, *CliCode, *InfraCode])
def test_every_code_is_used(code: StrEnum) -> None:
    # the codes that no class carries are the API's own answers and the remote client's
    carried = {cls.code for cls in every_error_class()}
    assert code in carried or code in ANSWER_CODES
