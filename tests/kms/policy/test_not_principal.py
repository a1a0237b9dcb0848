"""NotPrincipal in key policies: Deny only, and an account ARN there exempts the root user alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmslab.kms.errors import MalformedPolicyDocumentException
from kmslab.kms.policy import evaluate_policy, parse_policy, validate_key_policy
from kmslab.kms.seams import Caller

ACCT = "111122223333"
ROOT = f"arn:aws:iam::{ACCT}:root"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
KEY = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _policy(effect: str, not_principal: Any) -> str:
    statement = {"Effect": effect, "NotPrincipal": not_principal, "Action": "kms:*", "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _user(name: str) -> Caller:
    return Caller(arn=f"arn:aws:iam::{ACCT}:user/{name}", account=ACCT, identity_type="IAMUser")


def _denies(policy: str, caller: Caller) -> bool:
    result = evaluate_policy(
        parse_policy(policy), source="key policy", caller=caller, action="kms:Decrypt", resource=KEY, context={}
    )
    return bool(result.denies)


@pytest.mark.parametrize("not_principal", [{"AWS": ALICE}, {"AWS": [ALICE, ROOT]}, {"AWS": ACCT}, "*"])
def test_allow_with_not_principal_is_refused(not_principal: Any) -> None:
    with pytest.raises(MalformedPolicyDocumentException, match="NotPrincipal and Effect Allow"):
        validate_key_policy(_policy("Allow", not_principal))
    validate_key_policy(_policy("Deny", not_principal))


def test_deny_not_principal_with_the_account_arn_exempts_only_the_root_user() -> None:
    policy = _policy("Deny", {"AWS": [ALICE, ROOT]})
    assert not _denies(policy, _user("alice"))
    assert not _denies(policy, Caller.root(ACCT))
    assert _denies(policy, _user("admin"))
    assert _denies(
        policy, Caller(arn=f"arn:aws:sts::{ACCT}:assumed-role/ops/s", account=ACCT, identity_type="AssumedRole")
    )
    # The account given as a bare ID is the same principal as its root ARN.
    assert _denies(_policy("Deny", {"AWS": [ACCT]}), _user("admin"))
    assert not _denies(_policy("Deny", {"AWS": [ACCT]}), Caller.root(ACCT))
