"""Reading sweep files (YAML or JSON) and settings files, with errors that point at the line.

A file is bounded before any object is built from it: its size (`max_request_bytes`), its nesting
(`MAX_DEPTH`) and its size after expanding YAML aliases are checked on the parser's events, so a
deep or alias-bomb file is refused in milliseconds instead of crashing the interpreter."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

from sweep_cli.errors import SweepFileError
from sweep_contracts.decoding import MAX_DEPTH, check_values, decode_utf8, nesting_error, parse_int
from sweep_contracts.settings import EXPERIMENTS_PATH, DefaultValue, ExperimentDefaults, SystemSettings

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
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                None, None, "a list or mapping is used as a key; keys are names", key_node.start_mark
            )
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice (first on line {seen[key].start_mark.line + 1})", mark
            )
        seen[key] = key_node
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=deep)
    return mapping


def _int(loader: _Loader, node: yaml.ScalarNode) -> Any:
    # Python refuses to convert integers over its int-str digit limit with a bare ValueError.
    value = parse_int(re.sub(r"[^0-9]", "", str(loader.construct_scalar(node))))
    return value if not isinstance(value, int) else loader.construct_yaml_int(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor("tag:yaml.org,2002:int", _int)

DEFAULT_MAX_BYTES = SystemSettings.model_fields["max_request_bytes"].default


def read_bytes(path: str, max_bytes: int) -> bytes:
    """At most `max_bytes` of the file (or stdin for `-`); a longer file is an error."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(max_bytes + 1)
        else:
            with Path(path).open("rb") as file:
                data = file.read(max_bytes + 1)
    except FileNotFoundError:
        raise SweepFileError(
            f"there is no file {path!r}.",
            field="FILE",
            value=path,
            hint="give the path of a sweep file, e.g. `examples/maze.yaml`.",
        ) from None
    except OSError as exc:
        raise SweepFileError(
            f"cannot read {path!r}: {exc.strerror or exc}.",
            field="FILE",
            value=path,
            hint="a sweep file is a UTF-8 YAML or JSON text file.",
        ) from None
    if len(data) > max_bytes:
        raise SweepFileError(
            f"{path} is over the request limit of {max_bytes:,} bytes.",
            field="FILE",
            value=path,
            limit=max_bytes,
            hint="every shard task carries the request: describe points with `grids` or `sample` rather than "
            "long `points` lists, split the sweep, or raise `max_request_bytes` in --settings.",
        )
    return data


def _check_events(text: str, path: str, max_nodes: int) -> None:
    """Walk the parser's events: refuse nesting over `MAX_DEPTH` and more than `max_nodes` values
    once aliases are expanded (an alias re-counts everything its anchor holds)."""
    anchored: dict[str, int] = {}
    frames: list[tuple[int, str | None]] = []  # (expanded count when the node started, its anchor)
    expanded = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            expanded += anchored.get(event.anchor or "", 1)
        elif isinstance(event, yaml.ScalarEvent):
            expanded += 1
            if event.anchor:
                anchored[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            frames.append((expanded, event.anchor))
            expanded += 1
            if len(frames) > MAX_DEPTH:
                raise nesting_error("FILE", f"line {_line(event)}", noun=f"file {path}")
        elif isinstance(event, yaml.CollectionEndEvent):
            start, anchor = frames.pop()
            if anchor:
                anchored[anchor] = expanded - start
        if expanded > max_nodes:
            raise SweepFileError(
                f"{path} line {_line(event)}: with its aliases (`*name`) expanded, the file holds more than "
                f"{max_nodes:,} values, more than a request of {max_nodes * 2:,} bytes can.",
                field="FILE",
                value=path,
                limit=max_nodes,
                hint="write the values out instead of repeating anchors inside anchors, or split the sweep.",
            )


def _line(event: yaml.Event) -> int:
    return event.start_mark.line + 1 if event.start_mark else 0


def load_yaml(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Parse a YAML (or JSON) file within bounds; a syntax error names the line and column, a value
    JSON cannot carry names its field."""
    text = decode_utf8(read_bytes(path, max_bytes), what=path, field="FILE")
    try:
        _check_events(text, path, max_bytes // 2)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
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
    check_values(data)
    return data


def yaml_value(text: str) -> Any:
    """One value typed as a sweep file types it (`1e-5` a float, `[11, 21]` a list)."""
    value = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    check_values(value)
    return value


def load_sweep(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    data = load_yaml(path, max_bytes)
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
    experiments = raw.pop(EXPERIMENTS_PATH.rstrip("/"), None) or {}
    settings = SystemSettings.resolve(raw, source="file", strict=True)
    return settings.model_copy(update={"experiment_defaults": file_defaults(path, experiments)})


def file_defaults(path: Path, experiments: Any) -> ExperimentDefaults:
    """The settings file's `experiments: {<name>: {<key>: value}}`, each value checked by the
    experiment's config model: the local counterpart of `/sweep/<stage>/experiments/<name>/<key>`."""
    from sweep_contracts.defaults import check_default
    from sweep_contracts.experiments import Registry

    if not isinstance(experiments, dict) or not all(isinstance(v, dict) for v in experiments.values()):
        raise SweepFileError(
            f"`experiments` in {path} must map experiment names to mappings of config defaults.",
            field="experiments",
            value=experiments,
            hint="write e.g. `experiments: {maze: {max_moves: 800}}`.",
        )
    registry = Registry.default()
    return ExperimentDefaults(
        experiments={
            str(name): {
                str(key): DefaultValue(value=check_default(registry.get(str(name)), str(key), value), source="file")
                for key, value in values.items()
            }
            for name, values in experiments.items()
        }
    )
