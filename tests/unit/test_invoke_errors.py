"""The invoker's retry rules against botocore's model of Lambda `Invoke` and its retry handlers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore
import botocore.session
import pytest
from botocore.retries import standard

from sweep_aws.invoke import InvokeResult
from sweep_aws.invoke_errors import (
    BOTOCORE_RETRIED_CODES,
    BOTOCORE_RETRIED_STATUSES,
    PERMANENT,
    RETRY_AFTER_CAP_S,
    TRANSIENT,
    is_retryable,
    retry_after_s,
)

INVOKE = botocore.session.get_session().get_service_model("lambda").operation_model("Invoke")
MODELLED = {shape.name: int(shape.metadata["error"]["httpStatusCode"]) for shape in INVOKE.error_shapes}
RETRY_JSON: dict[str, Any] = json.loads((Path(botocore.__file__).parent / "data" / "_retry.json").read_text())
# Where this module departs from botocore on purpose (invoke_errors.py says why)
TRANSIENT_THOUGH_BOTOCORE_DOES_NOT_RETRY = {
    "ResourceConflictException",
    "SnapStartNotReadyException",
    "SnapStartTimeoutException",
    "CodeArtifactUserPendingException",
    "EFSMountConnectivityException",
    "EFSMountTimeoutException",
    "S3FilesMountConnectivityException",
    "S3FilesMountTimeoutException",
}


def test_every_error_botocore_models_for_invoke_is_classified_once() -> None:
    # GIVEN the Invoke operation's error shapes in the installed botocore
    # THEN each is either transient or permanent, never both; a new shape fails here until classified
    assert TRANSIENT.isdisjoint(PERMANENT)
    assert sorted(set(MODELLED) - TRANSIENT - PERMANENT) == []
    # and the lists name nothing the model does not
    assert sorted((TRANSIENT | PERMANENT) - set(MODELLED)) == []


@pytest.mark.parametrize("name", sorted(MODELLED))
def test_a_modelled_error_is_retried_exactly_when_it_is_transient(name: str) -> None:
    # GIVEN the error as Lambda sends it: its modelled HTTP status and its name
    result = InvokeResult(False, MODELLED[name], name, "…")
    # THEN the verdict is the classification's, whatever the status (botocore retries every 5xx)
    assert result.retryable is (name in TRANSIENT)


def test_departures_from_botocore_are_exactly_the_documented_ones() -> None:
    botocore_retries = {name for name, status in MODELLED.items() if is_botocore_retried(name, status)}
    assert sorted(TRANSIENT - botocore_retries) == sorted(TRANSIENT_THOUGH_BOTOCORE_DOES_NOT_RETRY)
    # every 5xx botocore would retry and we do not is a configuration error of the function
    assert sorted(botocore_retries - TRANSIENT) == sorted(
        name for name in PERMANENT if MODELLED[name] >= 500 or name in BOTOCORE_RETRIED_CODES
    )
    assert all(MODELLED[name] == 502 for name in botocore_retries - TRANSIENT)


def is_botocore_retried(code: str, status: int) -> bool:
    """botocore's standard retry mode, from botocore itself."""
    checker_codes = set(standard.ThrottledRetryableChecker._THROTTLED_ERROR_CODES) | set(
        standard.TransientRetryableChecker._TRANSIENT_ERROR_CODES
    )
    return code in checker_codes or status in standard.TransientRetryableChecker._TRANSIENT_STATUS_CODES


def test_the_fallback_for_unmodelled_codes_is_botocores() -> None:
    # GIVEN botocore's standard mode codes and `_retry.json`'s default policies
    standard_codes = set(standard.ThrottledRetryableChecker._THROTTLED_ERROR_CODES) | set(
        standard.TransientRetryableChecker._TRANSIENT_ERROR_CODES
    )
    definitions = RETRY_JSON["definitions"]
    legacy = [definitions[p["$ref"]]["applies_when"] for p in RETRY_JSON["retry"]["__default__"]["policies"].values()]
    legacy_codes = {
        w["response"]["service_error_code"] for w in legacy if "service_error_code" in w.get("response", {})
    }
    legacy_statuses = {
        w["response"]["http_status_code"] for w in legacy if set(w.get("response", {})) == {"http_status_code"}
    }
    # THEN our fallback lists are theirs (plus 0: no answer at all)
    assert standard_codes | legacy_codes == BOTOCORE_RETRIED_CODES
    statuses = legacy_statuses | set(standard.TransientRetryableChecker._TRANSIENT_STATUS_CODES) | {0}
    assert statuses == BOTOCORE_RETRIED_STATUSES
    # and an unmodelled code is retried exactly when botocore would
    assert is_retryable("SlowDown", 400)
    assert is_retryable("SomethingNew", 503)
    assert is_retryable("", 0)
    assert not is_retryable("SomethingNew", 400)


def test_the_throttling_shape_carries_retry_after_in_a_header() -> None:
    (throttle,) = [s for s in INVOKE.error_shapes if s.name == "TooManyRequestsException"]
    assert throttle.members["retryAfterSeconds"].serialization == {"location": "header", "name": "Retry-After"}


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2", 2.0),
        ("0.5", 0.5),
        ("3600", RETRY_AFTER_CAP_S),
        (None, None),
        ("", None),
        ("soon", None),
        ("-1", None),
        ("nan", None),
    ],
)
def test_retry_after_is_read_in_seconds_and_bounded(header: str | None, seconds: float | None) -> None:
    assert retry_after_s(header) == seconds
