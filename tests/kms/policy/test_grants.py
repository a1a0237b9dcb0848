"""Grant matching: grantee, operations, encryption-context constraints, retiring."""

from __future__ import annotations

from typing import Any

from kmslab.kms.policy import constraint_at_least_as_strict, constraints_hold, grant_allows, may_retire
from kmslab.kms.seams import Caller

ACCT = "111122223333"
BOB = Caller(arn=f"arn:aws:iam::{ACCT}:user/bob", account=ACCT, identity_type="IAMUser")
ALICE = Caller(arn=f"arn:aws:iam::{ACCT}:user/alice", account=ACCT, identity_type="IAMUser")
SESSION = Caller(arn=f"arn:aws:sts::{ACCT}:assumed-role/app/s", account=ACCT, identity_type="AssumedRole")


def grant(**extra: Any) -> dict[str, Any]:
    return {"GrantId": "g1", "GranteePrincipal": BOB.arn, "Operations": ["Encrypt", "Decrypt"], **extra}


def allows(g: dict[str, Any], caller: Caller = BOB, op: str = "Decrypt", ec: dict[str, str] | None = None) -> bool:
    return (
        grant_allows(g, caller=caller, operation=op, encryption_context=ec or {}, key_spec="SYMMETRIC_DEFAULT") is None
    )


def test_grant_covers_grantee_and_listed_operations_only() -> None:
    assert allows(grant())
    assert not allows(grant(), caller=ALICE)
    assert not allows(grant(), op="GenerateDataKey")


def test_role_grantee_covers_sessions() -> None:
    assert allows(grant(GranteePrincipal=f"arn:aws:iam::{ACCT}:role/app"), caller=SESSION)
    assert not allows(grant(GranteePrincipal=f"arn:aws:iam::{ACCT}:role/other"), caller=SESSION)


def test_subset_constraint_keys_ignore_case_values_do_not() -> None:
    g = grant(Constraints={"EncryptionContextSubset": {"Dept": "sales"}})
    assert allows(g, ec={"dept": "sales", "extra": "1"})
    assert not allows(g, ec={"dept": "Sales"})
    assert not allows(g, ec={})


def test_equals_constraint_needs_the_exact_context() -> None:
    g = grant(Constraints={"EncryptionContextEquals": {"dept": "sales"}})
    assert allows(g, ec={"DEPT": "sales"})
    assert not allows(g, ec={"dept": "sales", "extra": "1"})
    assert constraints_hold(g, {}) is not None


def test_constraints_do_not_apply_to_operations_without_encryption_context() -> None:
    g = grant(Operations=["DescribeKey", "Decrypt"], Constraints={"EncryptionContextEquals": {"dept": "sales"}})
    assert allows(g, op="DescribeKey")
    assert not allows(g, op="Decrypt")
    asym = grant_allows(g, caller=BOB, operation="Decrypt", encryption_context={}, key_spec="RSA_2048")
    assert asym is None


def test_retiring() -> None:
    g = grant(RetiringPrincipal=ALICE.arn)
    assert may_retire(g, ALICE, ACCT)
    assert not may_retire(g, BOB, ACCT)
    assert may_retire(grant(Operations=["RetireGrant"]), BOB, ACCT)
    assert may_retire(g, Caller.root(ACCT), ACCT)
    assert not may_retire(g, Caller.root("444455556666"), ACCT)


def test_new_grant_constraint_must_be_as_strict_as_the_creating_grant() -> None:
    equals = {"EncryptionContextEquals": {"a": "1"}}
    subset = {"EncryptionContextSubset": {"a": "1"}}
    assert constraint_at_least_as_strict(None, None) is None
    assert constraint_at_least_as_strict({}, subset) is None
    assert constraint_at_least_as_strict(equals, equals) is None
    assert constraint_at_least_as_strict(equals, {"EncryptionContextEquals": {"A": "1"}}) is None
    longer = {"EncryptionContextEquals": {"a": "1", "b": "2"}}
    for weaker in (None, {}, subset, longer, {"EncryptionContextEquals": {}}):
        assert constraint_at_least_as_strict(equals, weaker) is not None, weaker
    assert constraint_at_least_as_strict(equals, {"EncryptionContextEquals": {"a": "1"}, **subset}) is not None
    assert constraint_at_least_as_strict(subset, subset) is None
    assert constraint_at_least_as_strict(subset, {"EncryptionContextSubset": {"a": "1", "b": "2"}}) is None
    assert constraint_at_least_as_strict(subset, {"EncryptionContextEquals": {"a": "1", "b": "2"}}) is None
    for weaker in (None, {"EncryptionContextSubset": {"b": "2"}}, {"EncryptionContextEquals": {"a": "2"}}):
        assert constraint_at_least_as_strict(subset, weaker) is not None, weaker


def test_create_grant_through_a_constrained_grant_checks_the_new_constraint() -> None:
    parent = grant(Operations=["Decrypt", "CreateGrant"], Constraints={"EncryptionContextEquals": {"a": "1"}})

    def create(constraints: dict[str, Any] | None) -> str | None:
        return grant_allows(
            parent,
            caller=BOB,
            operation="CreateGrant",
            encryption_context={},
            key_spec="SYMMETRIC_DEFAULT",
            requested_operations=["Decrypt"],
            requested_constraints=constraints,
        )

    assert create(None) is not None
    assert create({"EncryptionContextSubset": {"a": "1"}}) is not None
    assert create({"EncryptionContextEquals": {"a": "1"}}) is None
