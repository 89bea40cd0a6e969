"""Stage defaults per experiment (the seeds' hybrid model): stable values of a stage, such as a
default model or an agent's max moves, merged ONCE, at submit, under the request's own config.

They come from SSM on a stage (`/sweep/<stage>/experiments/<name>/<key>`) and from the settings
file locally (`experiments: {<name>: {<key>: value}}`). The request wins; a key neither gives keeps
the config model's own default. The manifest records, for every key, its value and its `source`
(`request`, `ssm` with its parameter `version`, `file`, or `default`), and from then on the merged
config travels in the event like every other value: nothing downstream reads these sources again.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import JsonValue, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined, to_jsonable_python

from sweep_contracts.errors import SettingsError
from sweep_contracts.experiments import Experiment, Registry
from sweep_contracts.names import EXPERIMENT_PATTERN
from sweep_contracts.request import SEED
from sweep_contracts.settings import EXPERIMENTS_PATH, ExperimentDefaults, SystemSettings, parse_value


def check_default(experiment: Experiment[Any], key: str, value: Any, *, strict: bool = False) -> JsonValue:
    """Validate one default by the experiment's config model; `SettingsError` names the key.

    `strict` (an admin's write): the value must also have the field's JSON type, as pydantic's strict
    JSON mode judges it (`"800"` and `true` are not integers), so what is stored is what was meant."""
    field = f"experiments.{experiment.name}.{key}"
    if key not in experiment.config_model.model_fields:
        raise SettingsError(
            f"`{key}` is not a config field of experiment `{experiment.name}`.",
            field=field,
            value=value,
            hint=f"its config fields: {', '.join(experiment.config_fields())}.",
        )
    try:
        experiment.config_model.__pydantic_validator__.validate_assignment(
            experiment.config_model.model_construct(), key, value
        )
        if strict:
            annotation = experiment.config_model.model_fields[key].annotation
            TypeAdapter(annotation).validate_json(json.dumps(value), strict=True)
    except ValidationError as exc:
        raise SettingsError(
            f"`{key}` of experiment `{experiment.name}` cannot be {value!r}: {exc.errors()[0]['msg'].lower()}.",
            field=field,
            value=value,
            hint=f"see the `{experiment.name}` config fields with `sweep experiments {experiment.name}`.",
        ) from exc
    return to_jsonable_python(value)  # type: ignore[no-any-return]


def merge_config(
    experiment: Experiment[Any], config: Mapping[str, JsonValue], defaults: ExperimentDefaults
) -> tuple[dict[str, JsonValue], dict[str, dict[str, Any]]]:
    """The request's `config` over the experiment's stage defaults, and every key's provenance.

    A stage default that its config model rejects is left out (the model's default applies) and its
    provenance says why: a bad parameter must not fail every run of the stage."""
    from_defaults: dict[str, JsonValue] = {}
    provenance: dict[str, dict[str, Any]] = {}
    notes: dict[str, str] = {}
    for key, default in sorted(defaults.of(experiment.name).items()):
        if key in config:
            continue
        try:
            from_defaults[key] = check_default(experiment, key, default.value)
        except SettingsError as exc:
            notes[key] = f"{default.source} value {default.value!r} ignored: {exc.message}"
            continue
        provenance[key] = {"value": from_defaults[key], "source": default.source}
        if default.version is not None:
            provenance[key]["version"] = default.version
    for key, value in config.items():
        provenance[key] = {"value": value, "source": "request"}
    for key, info in experiment.config_model.model_fields.items():
        if key in provenance or key == SEED:
            continue
        builtin = info.get_default(call_default_factory=True)
        record: dict[str, Any] = {"value": None if builtin is PydanticUndefined else _jsonable(builtin)}
        record["source"] = "default"
        note = notes.get(key) or defaults.note
        if note:
            record["note"] = note
        provenance[key] = record
    return {**config, **from_defaults}, dict(sorted(provenance.items()))


def _jsonable(value: Any) -> JsonValue:
    try:
        return to_jsonable_python(value)  # type: ignore[no-any-return]
    except ValueError:  # a default pydantic cannot serialise: record what it is
        return repr(value)


def check_setting_name(name: str) -> None:
    """Refuse a name that is neither a stage setting nor `experiments.<experiment>.<key>` in form,
    before anything is sent: a name becomes a URL path segment and an SSM parameter name, so a `#`,
    `?` or `/` in it would address another setting."""
    if name.startswith("experiments."):
        experiment, _, key = name.removeprefix("experiments.").partition(".")
        if not re.fullmatch(EXPERIMENT_PATTERN, experiment) or not key.isidentifier():
            raise SettingsError(
                f"`{name}` does not name an experiment default.",
                field="name",
                value=name,
                hint="write `experiments.<experiment>.<config key>`, e.g. `experiments.maze.max_moves`.",
            )
        return
    if name not in SystemSettings.names():
        close = difflib.get_close_matches(name, SystemSettings.names(), n=1)
        guess = f"; did you mean `{close[0]}`?" if close else ""
        raise SettingsError(
            f"`{name}` is not a setting{guess}",
            field=name,
            value=name,
            hint=f"a stage setting is one of {', '.join(SystemSettings.names())}; an experiment default is "
            "`experiments.<experiment>.<key>`.",
        )


def setting_parameter(name: str, value: Any, registry: Registry) -> tuple[str, str]:
    """Validate an admin write of `name` (a stage setting such as `max_points`, or an experiment
    default `experiments.<experiment>.<key>`) and answer its parameter name under the stage prefix
    and the text to store. Errors name the setting, the value and the fix."""
    if name.startswith("experiments."):
        experiment_name, _, key = name.removeprefix("experiments.").partition(".")
        if not key or "." in key:
            raise SettingsError(
                f"`{name}` does not name an experiment default.",
                field="name",
                value=name,
                hint="write `experiments.<experiment>.<config key>`, e.g. `experiments.maze.max_moves`.",
            )
        checked = check_default(registry.get(experiment_name), key, value, strict=True)
        text = checked if isinstance(checked, str) and parse_value(checked) == checked else json.dumps(checked)
        return f"{EXPERIMENTS_PATH}{experiment_name}/{key}", text
    return name, str(SystemSettings.check_value(name, value, strict=True))
