"""Version-gated contract: what `sweep_worker.configs` takes from pydantic's internals.

`per_field` decides that a config model validates each field on its own by reading the model's
decorator record (`__pydantic_decorators__`), `__pydantic_post_init__`, `__private_attributes__`,
`__pydantic_root_model__`, and by walking `__pydantic_core_schema__` for pydantic-core's function
validator schema types (`function-before`, `-after`, `-wrap`, `-plain`); `GridConfigs` builds a
config as `model_construct` does, setting `__dict__`, `__pydantic_fields_set__`,
`__pydantic_extra__` and `__pydantic_private__`. None of that is public API. This test pins the
range it was checked on and checks each name still means what `configs.py` relies on. When
pydantic or pydantic-core is upgraded past the range: re-check those names in configs.py against
the new release (tests/unit/test_grid_configs.py compares its configs with validation), then widen
`SUPPORTED`."""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, PlainValidator, WrapValidator, model_validator

from sweep_worker import configs

SUPPORTED = {"pydantic": ((2, 14), (2, 15)), "pydantic-core": ((2, 50), (2, 51))}
"""Releases `sweep_worker.configs` was checked against, from the first up to, not including, the second."""

RECHECK = (
    "re-check sweep_worker/configs.py (per_field, _has_function's _FUNCTIONS schema types, "
    "GridConfigs' model_construct-like assembly) against this pydantic; then widen SUPPORTED in this test"
)


def minor(text: str) -> tuple[int, int]:
    major, minor_, *_ = text.split(".")
    return int(major), int(minor_)


def test_the_installed_pydantic_is_in_the_checked_range() -> None:
    for name, (low, high) in SUPPORTED.items():
        installed = version(name)
        assert low <= minor(installed) < high, f"{name} {installed} is outside {low}..{high} (exclusive): {RECHECK}"


def schema_types(schema: object) -> set[str]:
    if isinstance(schema, dict):
        found = {schema["type"]} if isinstance(schema.get("type"), str) else set()
        return found.union(*(schema_types(v) for v in schema.values()))
    if isinstance(schema, list | tuple):
        return set().union(*(schema_types(v) for v in schema))
    return set()


def test_each_function_validator_is_one_of_the_schema_types_it_looks_for() -> None:
    # GIVEN a field with each kind of function validator, as `Annotated` metadata
    kinds = {
        "before": BeforeValidator(lambda v: v),
        "after": AfterValidator(lambda v: v),
        "wrap": WrapValidator(lambda v, handler: handler(v)),
        "plain": PlainValidator(lambda v: v),
    }
    for kind, validator in kinds.items():
        model: Any = type(f"With{kind}", (BaseModel,), {"__annotations__": {"x": Annotated[int, validator]}})
        # THEN its core schema holds the type `function-<kind>`, which `_FUNCTIONS` names
        assert f"function-{kind}" in schema_types(model.__pydantic_core_schema__), RECHECK
        assert f"function-{kind}" in configs._FUNCTIONS, RECHECK
        assert not configs.per_field(model), RECHECK


class Plain(BaseModel):
    x: int = 0
    name: str = "a"


class Checked(BaseModel):
    x: int = 0

    @model_validator(mode="after")
    def positive(self) -> Checked:
        return self


def test_the_model_attributes_it_reads_exist_and_mean_what_it_relies_on() -> None:
    # GIVEN a plain model and one with a model validator
    decorators = Checked.__pydantic_decorators__
    # THEN the decorator record has the four collections per_field reads, the validator in one of them
    for name in ("validators", "field_validators", "root_validators", "model_validators"):
        assert hasattr(decorators, name), RECHECK
    assert decorators.model_validators, RECHECK
    assert not Plain.__pydantic_decorators__.model_validators, RECHECK
    # AND the attributes for post-init, private attributes and root models are there, unset on a plain model
    assert Plain.__pydantic_post_init__ is None, RECHECK
    assert Plain.__private_attributes__ == {}, RECHECK
    assert Plain.__pydantic_root_model__ is False, RECHECK
    assert configs.per_field(Plain), RECHECK
    assert not configs.per_field(Checked), RECHECK


def test_a_config_assembled_as_grid_configs_does_equals_a_validated_one() -> None:
    # GIVEN the four attributes GridConfigs sets on a bare instance, as model_construct does
    built = Plain.__new__(Plain)
    object.__setattr__(built, "__dict__", {"x": 3, "name": "a"})
    object.__setattr__(built, "__pydantic_fields_set__", {"x"})
    object.__setattr__(built, "__pydantic_extra__", None)
    object.__setattr__(built, "__pydantic_private__", None)
    # THEN it is the model validation gives, field values, fields set and dump alike
    validated = Plain.model_validate({"x": 3})
    assert built == validated, RECHECK
    assert built.model_fields_set == validated.model_fields_set == {"x"}, RECHECK
    assert built.model_dump() == validated.model_dump(), RECHECK
