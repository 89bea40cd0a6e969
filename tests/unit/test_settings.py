"""Stage settings: defaults, overrides with provenance, and what happens to bad values."""

from __future__ import annotations

import pytest

from sweep_contracts.errors import SettingsError
from sweep_contracts.settings import SystemSettings, normalise_prefix, parameter_prefix, secrets_prefix


def test_defaults_have_default_provenance() -> None:
    settings = SystemSettings.resolve({}, source="default")
    assert settings.records()["max_points"] == {"value": 1_000_000, "source": "default"}


def test_ssm_strings_are_parsed_and_versioned() -> None:
    settings = SystemSettings.resolve(
        {"max_points": "5000", "shard_size": "25"}, source="ssm", versions={"max_points": 3}
    )
    assert (settings.max_points, settings.shard_size) == (5000, 25)
    assert settings.records()["max_points"] == {"value": 5000, "source": "ssm", "version": 3}
    assert settings.records()["shard_size"] == {"value": 25, "source": "ssm"}
    assert settings.records()["max_shards"] == {"value": 10_000, "source": "default"}


def test_a_bad_ssm_value_falls_back_to_the_default_and_says_why() -> None:
    settings = SystemSettings.resolve({"max_points": "lots", "nonsense": "1"}, source="ssm")
    assert settings.max_points == 1_000_000
    record = settings.records()["max_points"]
    assert record["source"] == "default"
    assert record["note"].startswith("ssm value 'lots' ignored: setting `max_points` cannot be 'lots'")


def test_strict_resolution_refuses_unknown_names_with_the_valid_ones() -> None:
    with pytest.raises(SettingsError) as info:
        SystemSettings.resolve({"max_point": 5}, source="file", strict=True)
    assert info.value.to_dict() == {
        "code": "INVALID_SETTING",
        "message": "`max_point` is not a setting; did you mean `max_points`?",
        "field": "max_point",
        "value": 5,
        "hint": "valid settings: " + ", ".join(SystemSettings.names()) + ".",
    }


def test_strict_resolution_refuses_out_of_range_values_with_the_range() -> None:
    with pytest.raises(SettingsError) as info:
        SystemSettings.resolve({"max_shards": 0}, source="file", strict=True)
    assert info.value.limit == {"min": 1, "max": 99_999}
    assert info.value.hint == "give an integer from 1 to 99999 (default 10000)."


def test_describe_lists_every_setting_with_bounds() -> None:
    described = SystemSettings.describe()
    assert list(described) == SystemSettings.names()
    assert described["max_request_bytes"]["max"] == 524_288  # half the 1 MB async event limit
    assert all(d["description"] for d in described.values())


@pytest.mark.parametrize(("given", "expected"), [("dev", "/sweep/dev/"), ("prod", "/sweep/prod/")])
def test_a_stage_has_one_parameter_prefix_and_its_secrets_sit_under_it(given: str, expected: str) -> None:
    # GIVEN a stage name WHEN its prefixes are asked for THEN both are spelled in one place
    assert parameter_prefix(given) == expected
    assert secrets_prefix(parameter_prefix(given)) == expected + "secrets/"
    # a prefix given with or without its slashes (an environment variable, say) means the same path
    assert secrets_prefix(expected.strip("/")) == expected + "secrets/"
    assert normalise_prefix(expected.rstrip("/")) == expected
