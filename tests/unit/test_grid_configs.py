"""A grid shard's configs assembled from values validated once equal the configs validating each
point gives, field for field and down to `model_fields_set`; models whose validation is not
field by field, and points with an invalid value, are left to per-point validation (issue 13)."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

import pytest
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sweep_contracts.points import PointSpace
from sweep_contracts.request import SEED, parse_request
from sweep_experiments.synthetic import SyntheticConfig
from sweep_worker.configs import GridConfigs, per_field
from sweep_worker.texts import ShardTexts


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Mixed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: float = Field(default=0.1, ge=0)
    name: str = "a"
    mode: Literal["fast", "slow"] = "fast"
    color: Color = Color.RED
    size: int = 1
    shape: tuple[int, ...] = (1,)
    flag: bool | None = None
    seed: int = 0


class Mutable(BaseModel):
    items: list[int] = []
    seed: int = 0


class Loose(BaseModel):
    a: int = 0
    seed: int = 0


class CrossField(BaseModel):
    a: float = 0
    b: float = 1

    @model_validator(mode="after")
    def differ(self) -> CrossField:
        if self.a == self.b:
            raise ValueError("a and b must differ")
        return self


class FieldCheck(BaseModel):
    a: float = 0

    @field_validator("a")
    @classmethod
    def positive(cls, value: float) -> float:
        return abs(value)


class Aliased(BaseModel):
    a: float = Field(default=0, alias="alpha")


class FunctionInField(BaseModel):
    a: Annotated[float, AfterValidator(abs)] = 0


def space_for(payload: dict[str, Any]) -> PointSpace:
    request = parse_request({"experiment": "synthetic", **payload})
    return PointSpace(request, request.config)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (SyntheticConfig, True),
        (Mixed, True),
        (CrossField, False),
        (FieldCheck, False),
        (Aliased, False),
        (FunctionInField, False),
    ],
)
def test_only_models_validated_field_by_field_qualify(model: type[BaseModel], expected: bool) -> None:
    assert per_field(model) is expected


MIXED_GRID = {
    "config": {"name": 'quote"d', "seed": 5},
    "grid": {
        "rate": [0, 0.5, 2],
        "mode": ["fast", "slow"],
        "color": ["red", "blue"],
        "shape": [[1, 2], [3]],
        "flag": [True, None],
        "size": [1, 2.0],
    },
    "repeats": 3,
}


@pytest.mark.parametrize(
    ("model", "payload"),
    [
        (SyntheticConfig, {"config": {"noise": 0.0}, "grid": {"x": [0, 0.5, 1e-7], "y": [-0.2, 3]}, "repeats": 2}),
        (Mixed, MIXED_GRID),
    ],
)
def test_assembled_configs_equal_validated_ones(model: type[BaseModel], payload: dict[str, Any]) -> None:
    # GIVEN a grid over a model validated field by field
    space = space_for(payload)
    texts = ShardTexts(space, True, model)
    assembled_before = 0
    for index in range(space.size):
        validated = model.model_validate(texts.texts(index)[5])
        # WHEN a point's config is assembled from the values earlier points validated to
        assembled = texts.config(index)
        if assembled is None:  # a value no point had yet: validated on its own, and learnt
            texts.learn(index, validated)
            assembled = texts.config(index)
        else:
            assembled_before += 1
        # THEN it is the config validating the point gives, down to which fields were set
        assert assembled is not None
        assert assembled == validated
        assert assembled.model_fields_set == validated.model_fields_set
        assert (assembled.__pydantic_extra__, assembled.__pydantic_private__) == (None, None)
        assert list(assembled.__dict__) == list(validated.__dict__)
    assert assembled_before > space.size // 2


def test_a_block_of_points_gets_the_same_configs() -> None:
    space = space_for(MIXED_GRID)
    texts = ShardTexts(space, True, Mixed)
    found = texts.block(range(7, 288))
    assert found is not None
    grid, block = found
    configs = block.batch(grid.configs, True)
    assert list(configs or ()) == [Mixed.model_validate(texts.texts(i)[5]) for i in range(7, 288)]
    # AND a block too short to pay for its columns is left to the point-by-point path
    assert texts.block(range(0, 100)) is None


def test_points_with_an_invalid_value_are_validated_on_their_own() -> None:
    # GIVEN an axis with one value the model refuses (rate < 0)
    configs = GridConfigs(Mixed, {"name": "b"}, ["rate", "size"], [[0.5, -1.0], [1, 2]], 0)
    # THEN points with the valid value are assembled, the others are left to per-point validation
    assert [configs.config([r, s], 0) is not None for r in (0, 1) for s in (0, 1)] == [True, True, False, False]
    with pytest.raises(ValidationError):
        Mixed.model_validate({"name": "b", "rate": -1.0, "size": 1, "seed": 0})
    # AND a block with any such point is left to per-point validation as a whole
    space = space_for({"config": {"name": "b"}, "grid": {"rate": [0.5, -1.0], "size": [1, 2]}, "repeats": 64})
    texts = ShardTexts(space, True, Mixed)
    found = texts.block(range(0, 256))
    assert found is not None
    assert found[1].batch(found[0].configs, True) is None


def test_mutable_values_are_never_shared_between_points() -> None:
    configs = GridConfigs(Mutable, {"items": [1]}, ["seed"], [[1, 2]], None)
    assert not configs.usable
    assert configs.config([0], None) is None


def test_a_config_key_the_model_does_not_know_is_left_to_validation() -> None:
    configs = GridConfigs(SyntheticConfig, {"unknown": 1}, ["x"], [[1.0]], 0)
    assert not configs.usable


def test_fields_set_is_each_configs_own() -> None:
    # GIVEN two assembled configs of a model that is not frozen
    configs = GridConfigs(Loose, {}, [SEED], [[1, 2]], None)
    one, two = configs.config([0], None), configs.config([1], None)
    assert one is not None
    assert two is not None
    # WHEN one is changed THEN the other's record of set fields is not
    one.a = 3
    assert "a" in one.model_fields_set
    assert "a" not in two.model_fields_set
