"""Grants: create (idempotent by name), list, retirable, revoke and retire; what the authorizer is handed."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmslab.kms import AuthorizationRequest, Caller
from tests.kms.conftest import START
from tests.kms.helpers import ACCOUNT, covers, error_of, key_arn

APP = f"arn:aws:iam::{ACCOUNT}:role/app"
OPS = f"arn:aws:iam::{ACCOUNT}:role/ops"


@pytest.fixture
def key_id(kms: Any) -> str:
    return str(kms.create_key()["KeyMetadata"]["KeyId"])


def test_create_and_list_grants(kms: Any, key_id: str) -> None:
    out = kms.create_grant(
        KeyId=key_id,
        GranteePrincipal=APP,
        RetiringPrincipal=OPS,
        Operations=["Encrypt", "Decrypt"],
        Constraints={"EncryptionContextSubset": {"tenant": "a"}},
        Name="app-grant",
    )
    assert len(out["GrantId"]) == 64 and out["GrantToken"]
    grants = kms.list_grants(KeyId=key_id)["Grants"]
    assert grants == [
        {
            "KeyId": key_arn(key_id),
            "GrantId": out["GrantId"],
            "Name": "app-grant",
            "CreationDate": START,
            "GranteePrincipal": APP,
            "RetiringPrincipal": OPS,
            "IssuingAccount": f"arn:aws:iam::{ACCOUNT}:root",
            "Operations": ["Encrypt", "Decrypt"],
            "Constraints": {"EncryptionContextSubset": {"tenant": "a"}},
        }
    ]
    assert kms.list_grants(KeyId=key_id, GranteePrincipal=OPS)["Grants"] == []
    assert [g["GrantId"] for g in kms.list_retirable_grants(RetiringPrincipal=OPS)["Grants"]] == [out["GrantId"]]


def test_same_name_and_parameters_is_idempotent(kms: Any, key_id: str) -> None:
    first = kms.create_grant(KeyId=key_id, GranteePrincipal=APP, Operations=["Decrypt"], Name="once")
    again = kms.create_grant(KeyId=key_id, GranteePrincipal=APP, Operations=["Decrypt"], Name="once")
    assert again["GrantId"] == first["GrantId"]
    different = kms.create_grant(KeyId=key_id, GranteePrincipal=APP, Operations=["Encrypt"], Name="once")
    assert different["GrantId"] != first["GrantId"]
    assert len(kms.list_grants(KeyId=key_id)["Grants"]) == 2


@covers("CreateGrant", aspect="errors")
def test_operations_must_fit_the_key(kms: Any, key_id: str) -> None:
    with pytest.raises(ClientError) as exc:
        kms.create_grant(KeyId=key_id, GranteePrincipal=APP, Operations=["Sign"])
    assert error_of(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        kms.create_grant(
            KeyId=key_id,
            GranteePrincipal=APP,
            Operations=["Decrypt"],
            Constraints={"EncryptionContextSubset": {"a": "1"}, "EncryptionContextEquals": {"a": "1"}},
        )
    assert error_of(exc)[0] == "ValidationException"


def test_constraint_limits_eight_pairs_and_384_character_values(kms: Any, key_id: str) -> None:
    # CreateGrant API reference: up to 8 encryption context pairs per constraint, values up to 384 characters.
    eight = {f"k{i}": "v" * 384 for i in range(8)}
    for kind in ("EncryptionContextSubset", "EncryptionContextEquals"):
        kms.create_grant(KeyId=key_id, GranteePrincipal=APP, Operations=["Decrypt"], Constraints={kind: eight})
        for bad in ({**eight, "k8": "v"}, {"k": "v" * 385}):
            with pytest.raises(ClientError) as exc:
                kms.create_grant(KeyId=key_id, GranteePrincipal=APP, Operations=["Decrypt"], Constraints={kind: bad})
            assert error_of(exc)[0] == "ValidationException"
            assert "constraints." in error_of(exc)[1]
    assert len(kms.list_grants(KeyId=key_id)["Grants"]) == 2


@covers("RevokeGrant", aspect="errors")
def test_revoke_and_retire(kms: Any, key_id: str) -> None:
    a = kms.create_grant(KeyId=key_id, GranteePrincipal=APP, Operations=["Decrypt"])
    b = kms.create_grant(KeyId=key_id, GranteePrincipal=APP, RetiringPrincipal=OPS, Operations=["Encrypt"])
    c = kms.create_grant(KeyId=key_id, GranteePrincipal=APP, Operations=["GenerateDataKey"])
    kms.revoke_grant(KeyId=key_id, GrantId=a["GrantId"])
    kms.retire_grant(GrantToken=b["GrantToken"])
    kms.retire_grant(KeyId=key_arn(key_id), GrantId=c["GrantId"])
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
    with pytest.raises(ClientError) as exc:
        kms.revoke_grant(KeyId=key_id, GrantId=a["GrantId"])
    assert error_of(exc)[0] == "InvalidGrantIdException"
    with pytest.raises(ClientError) as exc:
        kms.retire_grant(GrantToken=b["GrantToken"])
    assert error_of(exc)[0] == "NotFoundException"
    with pytest.raises(ClientError) as exc:
        kms.retire_grant(GrantToken="forged-token")
    assert error_of(exc)[0] == "InvalidGrantTokenException"


def test_grant_tokens_are_checked_and_passed_to_the_authorizer(kms_engine: Any, kms: Any, key_id: str) -> None:
    seen: list[AuthorizationRequest] = []

    class Recorder:
        def authorize(self, request: AuthorizationRequest) -> None:
            seen.append(request)

    grant = kms.create_grant(KeyId=key_id, GranteePrincipal=APP, Operations=["Encrypt"])
    kms_engine.authorizer = Recorder()
    kms.encrypt(KeyId=key_id, Plaintext=b"x", GrantTokens=[grant["GrantToken"]])
    request = seen[-1]
    assert request.action == "kms:Encrypt" and request.grant_tokens == (grant["GrantToken"],)
    assert [g["GrantId"] for g in request.grants] == [grant["GrantId"]]
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x", GrantTokens=["not-a-token"])
    assert error_of(exc)[0] == "InvalidGrantTokenException"


def test_create_grant_context_for_aws_services(kms_engine: Any, key_id: str) -> None:
    seen: list[AuthorizationRequest] = []

    class Recorder:
        def authorize(self, request: AuthorizationRequest) -> None:
            seen.append(request)

    kms_engine.authorizer = Recorder()
    via_s3 = Caller.root(ACCOUNT, invoked_by="s3.amazonaws.com")
    client = kms_engine.boto3_client(caller=via_s3)
    client.create_grant(KeyId=key_id, GranteePrincipal=APP, Operations=["Decrypt", "Encrypt"])
    context = seen[-1].context
    assert context["kms:GrantOperations"] == ["Decrypt", "Encrypt"]
    assert context["kms:GrantIsForAWSResource"] is True
    assert context["kms:ViaService"] == "s3.us-east-1.amazonaws.com"
    assert context["kms:CallerAccount"] == ACCOUNT
