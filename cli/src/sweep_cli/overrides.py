"""Command-line overrides of a sweep file: `--set config.temperature=0.3 --set grid.size=[11,21]`.

A value is one YAML scalar or flow collection, typed as in the file (`0.3` a float, `[11, 21]` a
list, `dfs` a string). The path addresses the request:

- a top-level field (`repeats=3`, `shard_size=5`, `description=…`) is replaced;
- `config.A.B` walks into nested config mappings (created when missing); a mapping value merges into
  the mapping already there, the way an axis does;
- `grid.AXIS`, `grids.NAME.AXIS` and `sample.space.AXIS` set one axis; its name may contain dots
  (`grid.optim.lr=[0.1, 0.01]` sets the axis `optim.lr`).

The result is validated like the file, and it is the request the run records."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from sweep_cli.errors import SweepFileError
from sweep_cli.files import DEFAULT_MAX_BYTES, load_sweep, yaml_value
from sweep_contracts.points import merge
from sweep_contracts.request import REQUEST_FIELDS

_EXAMPLE = "e.g. `--set config.temperature=0.3` or `--set grid.size=[11,21]`"


def _error(item: str, message: str, hint: str) -> SweepFileError:
    return SweepFileError(f"--set {item}: {message}", field="--set", value=item, hint=hint)


def parse_override(item: str) -> tuple[list[str], Any]:
    """`PATH=VALUE` → (path parts, typed value)."""
    path, sep, text = item.partition("=")
    if not sep or not path.strip():
        raise _error(item, "an override is `PATH=VALUE`.", f"{_EXAMPLE}.")
    try:
        value = yaml_value(text)
    except yaml.YAMLError as exc:
        raise _error(
            item,
            f"the value {text!r} is not a YAML value ({getattr(exc, 'problem', None) or exc}).",
            "quote the value for your shell, e.g. `--set 'grid.size=[11, 21]'`; strings need no quotes.",
        ) from None
    return path.strip().split("."), value


def _child(node: dict[str, Any], key: str, item: str, where: str) -> dict[str, Any]:
    child = node.get(key)
    if child is None:
        child = {}
    elif not isinstance(child, Mapping):
        raise _error(
            item,
            f"`{where}` is {child!r} in the sweep file, not a mapping, so nothing can be set inside it.",
            f"set `{where}` itself (`--set {where}=…`), or make it a mapping in the file.",
        )
    node[key] = child = dict(child)
    return child


def _axes(payload: dict[str, Any], parts: list[str], item: str) -> tuple[dict[str, Any], str]:
    """The axis mapping a grid/grids/sample path lands in, and the axis name (the rest, dots kept)."""
    head = parts[0]
    if head == "grid" and len(parts) >= 2:
        return _child(payload, "grid", item, "grid"), ".".join(parts[1:])
    if head == "grids" and len(parts) >= 3:
        grids = payload.get("grids")
        names = [g.get("name") for g in grids if isinstance(g, Mapping)] if isinstance(grids, list) else []
        if parts[1] not in names:
            raise _error(
                item,
                f"there is no grid named `{parts[1]}`.",
                f"grids in this file: {', '.join(f'`{n}`' for n in names) or 'none'}; "
                "address one as `grids.NAME.AXIS=[…]`.",
            )
        assert isinstance(grids, list)
        index = names.index(parts[1])
        grids[index] = grid = dict(grids[index])
        return _child(grid, "axes", item, f"grids.{parts[1]}.axes"), ".".join(parts[2:])
    if head == "sample" and len(parts) >= 3 and parts[1] == "space":
        sample = _child(payload, "sample", item, "sample")
        return _child(sample, "space", item, "sample.space"), ".".join(parts[2:])
    raise _error(
        item,
        f"`{'.'.join(parts)}` does not name an axis.",
        "address an axis as `grid.AXIS`, `grids.NAME.AXIS` or `sample.space.AXIS`.",
    )


def _refuse_setting(item: str, parts: list[str], value: Any) -> None:
    """A stage setting given to `--set` of a sweep file: say where settings go."""
    from sweep_contracts.settings import SystemSettings

    if len(parts) != 1 or parts[0] not in SystemSettings.names():
        return
    shown = json.dumps(value) if not isinstance(value, str) else value
    raise _error(
        item,
        f"`{parts[0]}` is a setting, not a field of the sweep file: `--set` here changes the sweep.",
        f"put settings in a YAML file given with `--settings FILE` (a line `{parts[0]}: {shown}`); "
        f"a retry takes them with `sweep retry RUN --set {parts[0]}={shown}`.",
    )


def apply_overrides(payload: dict[str, Any], items: list[str]) -> dict[str, Any]:
    """The sweep file's request with each `PATH=VALUE` applied in order (the input is not changed)."""
    result = dict(payload)
    for item in items:
        parts, value = parse_override(item)
        head = parts[0]
        if head not in REQUEST_FIELDS:
            _refuse_setting(item, parts, value)
            raise _error(
                item,
                f"`{head}` is not a field of a sweep request.",
                f"fields: {', '.join(REQUEST_FIELDS)}; {_EXAMPLE}.",
            )
        if len(parts) == 1:
            result[head] = value
        elif head == "config":
            node = _child(result, "config", item, "config")
            for depth, key in enumerate(parts[1:-1], start=2):
                node = _child(node, key, item, ".".join(parts[:depth]))
            node[parts[-1]] = merge(node.get(parts[-1]), value)
        else:
            axes, axis = _axes(result, parts, item)
            axes[axis] = value
    return result


def sweep_request(
    file: str, overrides: list[str] | None, run_id: str | None, max_bytes: int = DEFAULT_MAX_BYTES
) -> dict[str, Any]:
    """The sweep file's request with the command line's `--set` overrides and `--run-id` applied."""
    payload = apply_overrides(load_sweep(file, max_bytes), overrides or [])
    if run_id is not None:
        payload["run_id"] = run_id
    return payload


def parse_setting(item: str) -> tuple[str, Any]:
    """`NAME=VALUE` of one stage setting (a retry's `--set`)."""
    parts, value = parse_override(item)
    return ".".join(parts), value
