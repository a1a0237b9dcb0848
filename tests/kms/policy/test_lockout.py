"""The policy lockout safety check (CreateKey/PutKeyPolicy without BypassPolicyLockoutSafetyCheck)."""

from __future__ import annotations

import json

import pytest

from kmslab.kms.errors import MalformedPolicyDocumentException
from kmslab.kms.policy import LOCKOUT_MESSAGE, check_lockout, default_key_policy
from kmslab.kms.seams import Caller

ACCT = "111122223333"
ALICE = Caller(arn=f"arn:aws:iam::{ACCT}:user/alice", account=ACCT, identity_type="IAMUser")
BOB = Caller(arn=f"arn:aws:iam::{ACCT}:user/bob", account=ACCT, identity_type="IAMUser")
OTHER = Caller(arn="arn:aws:iam::444455556666:user/eve", account="444455556666", identity_type="IAMUser")
ROLE_SESSION = Caller(arn=f"arn:aws:sts::{ACCT}:assumed-role/admin/s1", account=ACCT, identity_type="AssumedRole")


def policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: object, action: object = "kms:*", **extra: object) -> dict[str, object]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*", **extra}


def test_default_policy_passes_for_root_and_account_users() -> None:
    for caller in (Caller.root(ACCT), ALICE, ROLE_SESSION):
        check_lockout(default_key_policy(ACCT), caller=caller, account=ACCT)


def test_policy_naming_only_another_user_locks_the_caller_out() -> None:
    text = policy(allow({"AWS": BOB.arn}))
    check_lockout(text, caller=BOB, account=ACCT)
    with pytest.raises(MalformedPolicyDocumentException) as err:
        check_lockout(text, caller=ALICE, account=ACCT)
    assert (
        err.value.message
        == LOCKOUT_MESSAGE
        == "The new key policy will not allow you to update the key policy in the future."
    )


def test_root_caller_is_locked_out_without_the_root_statement() -> None:
    with pytest.raises(MalformedPolicyDocumentException, match="update the key policy"):
        check_lockout(policy(allow({"AWS": ALICE.arn})), caller=Caller.root(ACCT), account=ACCT)


def test_action_must_cover_put_key_policy() -> None:
    with pytest.raises(MalformedPolicyDocumentException, match="update the key policy"):
        check_lockout(policy(allow({"AWS": ALICE.arn}, ["kms:Encrypt", "kms:Decrypt"])), caller=ALICE, account=ACCT)
    check_lockout(policy(allow({"AWS": ALICE.arn}, "kms:Put*")), caller=ALICE, account=ACCT)


def test_role_principal_covers_its_sessions() -> None:
    check_lockout(policy(allow({"AWS": f"arn:aws:iam::{ACCT}:role/admin"})), caller=ROLE_SESSION, account=ACCT)


def test_deny_for_the_caller_fails_the_check() -> None:
    text = policy(
        allow({"AWS": ACCT}),
        {"Effect": "Deny", "Principal": {"AWS": ALICE.arn}, "Action": "kms:PutKeyPolicy", "Resource": "*"},
    )
    with pytest.raises(MalformedPolicyDocumentException, match="update the key policy"):
        check_lockout(text, caller=ALICE, account=ACCT)
    check_lockout(text, caller=BOB, account=ACCT)


def test_account_statement_does_not_help_a_caller_from_another_account() -> None:
    with pytest.raises(MalformedPolicyDocumentException, match="update the key policy"):
        check_lockout(default_key_policy(ACCT), caller=OTHER, account=ACCT)


def test_malformed_policy_fails_before_the_lockout_check() -> None:
    with pytest.raises(MalformedPolicyDocumentException, match="not valid JSON"):
        check_lockout("{", caller=ALICE, account=ACCT)


def test_condition_that_a_put_key_policy_request_cannot_meet_fails_the_check() -> None:
    text = policy(allow({"AWS": ALICE.arn}, Condition={"StringEquals": {"kms:EncryptionContext:dept": "x"}}))
    with pytest.raises(MalformedPolicyDocumentException, match="update the key policy"):
        check_lockout(text, caller=ALICE, account=ACCT)
    ok = policy(allow({"AWS": ALICE.arn}, Condition={"StringEquals": {"kms:CallerAccount": ACCT}}))
    check_lockout(ok, caller=ALICE, account=ACCT)
