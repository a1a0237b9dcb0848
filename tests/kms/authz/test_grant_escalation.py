"""CreateGrant through a constrained grant: the new grant is never looser than the grant that made it.

AWS KMS API reference, CreateGrant ``Constraints``: "If a grant with a grant constraint includes the
CreateGrant operation, the constraint requires that any grants created with the CreateGrant
permission have an equally strict or stricter encryption context constraint."
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmslab.kms.authz import KmsAuthorizer, caller_for_arn, parse_identities
from kmslab.kms.engine import LocalKms

ACCT = "111122223333"
ROOT = f"arn:aws:iam::{ACCT}:root"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
CAROL = f"arn:aws:iam::{ACCT}:user/carol"
STORE = parse_identities(
    {
        "account": ACCT,
        "identities": [
            {"arn": BOB, "access_key_id": "AKIABOB0000000000000", "secret_access_key": "b", "policies": []},
            {"arn": CAROL, "access_key_id": "AKIACAROL00000000000", "secret_access_key": "c", "policies": []},
        ],
    }
)


@pytest.fixture
def engine() -> Iterator[LocalKms]:
    kms = LocalKms(None, account=ACCT, authorizer=KmsAuthorizer(STORE))
    yield kms
    kms.close()


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def setup(engine: LocalKms, constraints: dict[str, Any]) -> tuple[Any, Any, str, str]:
    """A key with the default policy, and a grant for Bob of [Decrypt, CreateGrant] under ``constraints``."""
    root = engine.boto3_client(caller=caller_for_arn(ROOT))
    bob = engine.boto3_client(caller=caller_for_arn(BOB))
    key = root.create_key()["KeyMetadata"]["Arn"]
    token = root.create_grant(
        KeyId=key, GranteePrincipal=BOB, Operations=["Decrypt", "CreateGrant"], Constraints=constraints
    )["GrantToken"]
    return root, bob, key, token


def test_equals_grant_cannot_create_an_unconstrained_or_subset_grant(engine: LocalKms) -> None:
    root, bob, key, token = setup(engine, {"EncryptionContextEquals": {"a": "1"}})
    other = root.encrypt(KeyId=key, Plaintext=b"not for bob", EncryptionContext={"a": "2"})["CiphertextBlob"]
    mine = root.encrypt(KeyId=key, Plaintext=b"for bob", EncryptionContext={"a": "1"})["CiphertextBlob"]
    weaker: list[dict[str, Any]] = [
        {},
        {"Constraints": {"EncryptionContextSubset": {"a": "1"}}},
        {"Constraints": {"EncryptionContextEquals": {"a": "2"}}},
        {"Constraints": {"EncryptionContextEquals": {"a": "1", "b": "2"}}},
    ]
    for grantee in (BOB, CAROL):
        for extra in weaker:
            with pytest.raises(ClientError) as exc:
                bob.create_grant(
                    KeyId=key, GranteePrincipal=grantee, Operations=["Decrypt"], GrantTokens=[token], **extra
                )
            assert code(exc) == "AccessDeniedException", extra
    # Nothing was created, so the {a:2} ciphertext stays out of Bob's reach.
    assert [g["GranteePrincipal"] for g in root.list_grants(KeyId=key)["Grants"]] == [BOB]
    with pytest.raises(ClientError) as exc:
        bob.decrypt(CiphertextBlob=other, EncryptionContext={"a": "2"})
    assert code(exc) == "AccessDeniedException"
    # The same constraint (keys compare without regard to case) is allowed, and only for its own operations.
    bob.create_grant(
        KeyId=key, GranteePrincipal=CAROL, Operations=["Decrypt"], Constraints={"EncryptionContextEquals": {"A": "1"}}
    )
    carol = engine.boto3_client(caller=caller_for_arn(CAROL))
    assert carol.decrypt(CiphertextBlob=mine, EncryptionContext={"a": "1"})["Plaintext"] == b"for bob"
    with pytest.raises(ClientError) as exc:
        bob.create_grant(
            KeyId=key,
            GranteePrincipal=CAROL,
            Operations=["Decrypt", "Encrypt"],
            Constraints={"EncryptionContextEquals": {"a": "1"}},
        )
    assert code(exc) == "AccessDeniedException"


def test_subset_grant_creates_only_grants_that_keep_its_pairs(engine: LocalKms) -> None:
    root, bob, key, _ = setup(engine, {"EncryptionContextSubset": {"tenant": "t1"}})
    for constraints in ({}, {"EncryptionContextSubset": {"other": "x"}}, {"EncryptionContextEquals": {"tenant": "t2"}}):
        with pytest.raises(ClientError) as exc:
            bob.create_grant(KeyId=key, GranteePrincipal=CAROL, Operations=["Decrypt"], Constraints=constraints)
        assert code(exc) == "AccessDeniedException", constraints
    stricter: list[dict[str, Any]] = [
        {"EncryptionContextSubset": {"tenant": "t1"}},
        {"EncryptionContextSubset": {"tenant": "t1", "app": "web"}},
        {"EncryptionContextEquals": {"tenant": "t1", "app": "web"}},
    ]
    for constraints in stricter:
        bob.create_grant(KeyId=key, GranteePrincipal=CAROL, Operations=["Decrypt"], Constraints=constraints)
    assert len(root.list_grants(KeyId=key)["Grants"]) == 1 + len(stricter)


def test_unconstrained_grant_may_create_any_grant_for_its_operations(engine: LocalKms) -> None:
    root, bob, key, _ = setup(engine, {})
    bob.create_grant(KeyId=key, GranteePrincipal=CAROL, Operations=["Decrypt"])
    bob.create_grant(
        KeyId=key, GranteePrincipal=CAROL, Operations=["Decrypt"], Constraints={"EncryptionContextSubset": {"a": "1"}}
    )
    assert len(root.list_grants(KeyId=key)["Grants"]) == 3
