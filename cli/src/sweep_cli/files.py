"""Reading sweep files (YAML or JSON) and settings files, with errors that point at the line."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

from sweep_cli.errors import SweepFileError
from sweep_contracts.settings import SystemSettings

# YAML 1.1 (PyYAML) reads `1e-5` as a string; sweep files are full of such numbers.
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader that reads `1e-5` as a float and refuses duplicate keys."""


_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in _Base.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice (first on line {seen[key].start_mark.line + 1})", mark
            )
        seen[key] = key_node
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=deep)
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        raise SweepFileError(
            f"there is no file {path!r}.",
            field="FILE",
            value=path,
            hint="give the path of a sweep file, e.g. `examples/maze.yaml`.",
        ) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise SweepFileError(
            f"cannot read {path!r}: {exc}.",
            field="FILE",
            value=path,
            hint="a sweep file is a UTF-8 YAML or JSON text file.",
        ) from None


def load_yaml(path: str) -> Any:
    """Parse a YAML (or JSON) file; a syntax error names the line and column."""
    text = read_text(path)
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SweepFileError(
            f"{path}{where}: {exc.problem or exc.context}.",
            field="FILE",
            value=path,
            hint="fix the YAML syntax there (indent with spaces; quote strings that contain `: `).",
        ) from None
    except yaml.YAMLError as exc:
        raise SweepFileError(f"{path}: {exc}.", field="FILE", value=path, hint="fix the YAML syntax.") from None


def load_sweep(path: str) -> dict[str, Any]:
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise SweepFileError(
            f"{path} holds {type(data).__name__ if data is not None else 'nothing'}, not a sweep.",
            field="FILE",
            value=path,
            hint="a sweep file is a mapping with `experiment`, `config` and a `grid` (see examples/maze.yaml).",
        )
    return data


def load_settings(path: Path | None) -> SystemSettings:
    """The settings file's values over the built-in defaults, or the defaults alone."""
    if path is None:
        return SystemSettings.resolve({}, source="default")
    raw = load_yaml(str(path)) or {}
    if not isinstance(raw, dict):
        raise SweepFileError(
            f"{path} holds {type(raw).__name__}, not a mapping of settings.",
            field="--settings",
            value=str(path),
            hint=f"write `name: value` lines; settings: {', '.join(SystemSettings.names())}.",
        )
    return SystemSettings.resolve(raw, source="file", strict=True)
