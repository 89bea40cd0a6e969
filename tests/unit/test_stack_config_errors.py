"""A stack config error carries its fix as `hint=` (a `pulumi config set` command), and reads as
before: the message, then "Fix it with:" and the command (issue 24: hints inlined in messages)."""

from __future__ import annotations

import pytest

from sweep_infra.config import _check_encryption
from sweep_infra.errors import StackConfigError


def test_the_fix_is_the_hint_and_the_text_says_fix_it_with() -> None:
    error = StackConfigError(
        "stack config `logRetentionDays` of stack `dev` is 5.",
        field="logRetentionDays",
        value=5,
        hint="pulumi config set --stack dev sweep:logRetentionDays 14",
    )
    assert str(error) == (
        "stack config `logRetentionDays` of stack `dev` is 5. Fix it with: pulumi config set --stack dev "
        "sweep:logRetentionDays 14"
    )
    assert error.to_dict() == {
        "code": "INVALID_STACK_CONFIG",
        "message": "stack config `logRetentionDays` of stack `dev` is 5.",
        "field": "logRetentionDays",
        "value": 5,
        "hint": "pulumi config set --stack dev sweep:logRetentionDays 14",
    }


def test_a_key_arn_that_is_not_one_names_the_field_the_value_and_the_command() -> None:
    # GIVEN a stage under KMS encryption whose key ARN is an alias
    class Config:
        kms_key_arn, encryption, region, kms = "alias/mine", "kms", "eu-west-1", True

    # WHEN it is checked
    with pytest.raises(StackConfigError) as raised:
        _check_encryption(Config(), "dev")  # type: ignore[arg-type]
    # THEN the error's parts are separate, the fix in `hint`
    assert (raised.value.field, raised.value.value) == ("kmsKeyArn", "alias/mine")
    assert raised.value.hint == (
        "pulumi config set --stack dev sweep:kmsKeyArn arn:aws:kms:eu-west-1:111122223333:key/<key id>"
    )


def test_a_packaging_error_keeps_its_fix_in_hint_and_reads_as_one_text() -> None:
    from sweep_infra.errors import PackagingError
    from sweep_infra.experiment_packages import check

    # WHEN the stack config lists an installer option as an experiment package
    with pytest.raises(PackagingError) as raised:
        check(["--index-url=x"], "dev")
    # THEN the fix is the hint, and the text is the message then the hint, as one paragraph
    fix = "Fix it in Pulumi.dev.yaml: `sweep:experimentPackages: [examples/sample-experiment, mypkg==1.2]`."
    assert (raised.value.field, raised.value.value, raised.value.hint) == (
        "sweep:experimentPackages",
        "--index-url=x",
        fix,
    )
    assert str(raised.value) == (
        "stack config `sweep:experimentPackages` of stack `dev` holds '--index-url=x', which is an option, "
        f"not a package. {fix}"
    )
