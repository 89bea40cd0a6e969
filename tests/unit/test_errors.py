"""The error tree: one root, every class drawn in `sweep_contracts.errors`' docstring under its real
parent, each with its own code from `ApiCode`."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

from sweep_contracts import errors
from sweep_contracts.errors import ApiCode, SweepError

PACKAGES = (
    "sweep_contracts",
    "sweep_aws",
    "sweep_experiments",
    "sweep_orchestrator",
    "sweep_worker",
    "sweep_cli",
    "sweep_infra",
)


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


def drawn_tree() -> dict[str, tuple[str | None, str]]:
    """Class name -> (parent drawn above it, code drawn beside it), from the docstring."""
    block = (errors.__doc__ or "").split("```")[1]
    drawn: dict[str, tuple[str | None, str]] = {}
    parents: list[str] = []
    for line in block.strip("\n").splitlines():
        match = re.match(r"^([│├└─ ]*)([A-Za-z]+)\s+([A-Z_]+)", line)
        assert match, f"cannot read the tree line {line!r}"
        depth = len(match.group(1)) // 4
        del parents[depth:]
        drawn[match.group(2)] = (parents[-1] if parents else None, match.group(3))
        parents.append(match.group(2))
    return drawn


def test_every_error_class_is_drawn_under_its_real_parent_with_its_code() -> None:
    # GIVEN every subclass of SweepError in every package, and the tree the docstring draws
    classes, drawn = every_error_class(), drawn_tree()
    # THEN each class is drawn, under the parent it really has, with the code it really has
    for cls in classes:
        assert cls.__name__ in drawn, f"{cls.__module__}.{cls.__name__} is missing from the tree"
        parent, code = drawn[cls.__name__]
        real_parent = next((b.__name__ for b in cls.__bases__ if issubclass(b, SweepError)), None)
        assert parent == real_parent, f"{cls.__name__} is drawn under {parent}, but subclasses {real_parent}"
        assert cls.code == code, f"{cls.__name__} has code {cls.code}, drawn as {code}"
    # AND the tree draws nothing that does not exist
    assert sorted(drawn) == sorted(cls.__name__ for cls in classes)


def test_every_error_class_has_its_own_code_from_the_enum() -> None:
    classes = every_error_class()
    codes = [cls.code for cls in classes]
    assert all(isinstance(code, ApiCode) for code in codes), [c for c in codes if not isinstance(c, ApiCode)]
    assert len(set(codes)) == len(codes), sorted(codes)


@pytest.mark.parametrize("code", list(ApiCode))
def test_every_code_is_used(code: ApiCode) -> None:
    # the codes that no class carries are the API's own answers and the remote client's
    carried = {cls.code for cls in every_error_class()}
    assert code in carried or code in {ApiCode.NOT_FOUND, ApiCode.INTERNAL_ERROR, ApiCode.FORBIDDEN, ApiCode.HTTP_ERROR}
