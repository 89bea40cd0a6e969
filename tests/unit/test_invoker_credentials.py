"""The signed invoker refuses to start without credentials with sweep's own error, not a bare
`RuntimeError` (issue 24): the error tree's `ConfigurationError`, naming the fix."""

from __future__ import annotations

import boto3
import pytest

from sweep_aws.invoke import SignedHttpInvoker
from sweep_contracts.errors import ConfigurationError


def test_an_invoker_without_credentials_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a credential chain that finds nothing
    monkeypatch.setattr(boto3.Session, "get_credentials", lambda self: None)
    client = boto3.client("lambda", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
    # WHEN a signed invoker is made like the client
    with pytest.raises(ConfigurationError) as raised:
        SignedHttpInvoker.like(client)
    # THEN the error is sweep's, with its code, the field and the fix
    assert raised.value.to_dict() == {
        "code": "MISCONFIGURED",
        "message": "no AWS credentials were found to sign Lambda invokes.",
        "field": "credentials",
        "hint": "on Lambda the runtime provides them through the function's role: check that the "
        "function has an execution role; elsewhere, set AWS credentials (e.g. `AWS_PROFILE`).",
    }
