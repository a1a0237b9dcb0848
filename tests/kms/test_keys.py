"""Key lifecycle through a real boto3 client: CreateKey specs and usages, DescribeKey, ListKeys, naming keys."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.kms.conftest import START
from tests.kms.helpers import ACCOUNT, covers, error_of, key_arn

VALID = [
    ("SYMMETRIC_DEFAULT", None, "ENCRYPT_DECRYPT", {"EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"]}),
    (
        "RSA_2048",
        "ENCRYPT_DECRYPT",
        "ENCRYPT_DECRYPT",
        {"EncryptionAlgorithms": ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]},
    ),
    (
        "RSA_2048",
        "SIGN_VERIFY",
        "SIGN_VERIFY",
        {
            "SigningAlgorithms": [
                "RSASSA_PKCS1_V1_5_SHA_256",
                "RSASSA_PKCS1_V1_5_SHA_384",
                "RSASSA_PKCS1_V1_5_SHA_512",
                "RSASSA_PSS_SHA_256",
                "RSASSA_PSS_SHA_384",
                "RSASSA_PSS_SHA_512",
            ]
        },
    ),
    ("ECC_NIST_P256", "SIGN_VERIFY", "SIGN_VERIFY", {"SigningAlgorithms": ["ECDSA_SHA_256"]}),
    ("ECC_NIST_P384", "SIGN_VERIFY", "SIGN_VERIFY", {"SigningAlgorithms": ["ECDSA_SHA_384"]}),
    ("ECC_NIST_P521", "SIGN_VERIFY", "SIGN_VERIFY", {"SigningAlgorithms": ["ECDSA_SHA_512"]}),
    ("ECC_SECG_P256K1", "SIGN_VERIFY", "SIGN_VERIFY", {"SigningAlgorithms": ["ECDSA_SHA_256"]}),
    ("HMAC_224", "GENERATE_VERIFY_MAC", "GENERATE_VERIFY_MAC", {"MacAlgorithms": ["HMAC_SHA_224"]}),
    ("HMAC_256", "GENERATE_VERIFY_MAC", "GENERATE_VERIFY_MAC", {"MacAlgorithms": ["HMAC_SHA_256"]}),
    ("HMAC_384", "GENERATE_VERIFY_MAC", "GENERATE_VERIFY_MAC", {"MacAlgorithms": ["HMAC_SHA_384"]}),
    ("HMAC_512", "GENERATE_VERIFY_MAC", "GENERATE_VERIFY_MAC", {"MacAlgorithms": ["HMAC_SHA_512"]}),
]


@pytest.mark.parametrize(("spec", "usage", "expected_usage", "algorithms"), VALID)
def test_create_key_spec_and_usage(
    kms: Any, spec: str, usage: str | None, expected_usage: str, algorithms: dict
) -> None:
    params: dict[str, Any] = {"KeySpec": spec}
    if usage:
        params["KeyUsage"] = usage
    meta = kms.create_key(**params)["KeyMetadata"]
    assert (meta["KeySpec"], meta["CustomerMasterKeySpec"], meta["KeyUsage"]) == (spec, spec, expected_usage)
    for field in ("EncryptionAlgorithms", "SigningAlgorithms", "MacAlgorithms"):
        assert meta.get(field) == algorithms.get(field)
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True


INVALID = [
    ("ECC_NIST_P256", None),  # default usage ENCRYPT_DECRYPT is not valid for ECC
    ("ECC_NIST_P256", "ENCRYPT_DECRYPT"),
    ("HMAC_256", None),
    ("HMAC_256", "SIGN_VERIFY"),
    ("SYMMETRIC_DEFAULT", "SIGN_VERIFY"),
    ("SYMMETRIC_DEFAULT", "GENERATE_VERIFY_MAC"),
    ("RSA_2048", "GENERATE_VERIFY_MAC"),
]


@covers("CreateKey", aspect="errors")
@pytest.mark.parametrize(("spec", "usage"), INVALID)
def test_invalid_spec_usage_combinations_are_refused(kms: Any, spec: str, usage: str | None) -> None:
    params: dict[str, Any] = {"KeySpec": spec}
    if usage:
        params["KeyUsage"] = usage
    with pytest.raises(ClientError) as exc:
        kms.create_key(**params)
    code, message = error_of(exc)
    assert code == "ValidationException"
    assert spec in message
    assert kms.list_keys()["Keys"] == []


def test_keyspec_and_customermasterkeyspec_together_are_refused(kms: Any) -> None:
    with pytest.raises(ClientError) as exc:
        kms.create_key(KeySpec="SYMMETRIC_DEFAULT", CustomerMasterKeySpec="SYMMETRIC_DEFAULT")
    assert error_of(exc)[0] == "ValidationException"


def test_unsupported_specs_and_custom_key_stores(kms: Any) -> None:
    with pytest.raises(ClientError) as exc:
        kms.create_key(KeySpec="SM2", KeyUsage="SIGN_VERIFY")
    assert error_of(exc)[0] == "UnsupportedOperationException"
    with pytest.raises(ClientError) as exc:
        kms.create_key(Origin="AWS_CLOUDHSM")
    assert error_of(exc)[0] == "UnsupportedOperationException"


def test_describe_key_full_metadata(kms: Any) -> None:
    created = kms.create_key(Description="orders")["KeyMetadata"]
    meta = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert meta["AWSAccountId"] == ACCOUNT
    assert meta["Arn"] == key_arn(meta["KeyId"])
    assert meta["CreationDate"] == START
    assert meta["Description"] == "orders"
    assert meta["Origin"] == "AWS_KMS"
    assert meta["KeyManager"] == "CUSTOMER"
    assert meta["MultiRegion"] is False
    assert "DeletionDate" not in meta and "ValidTo" not in meta and "MultiRegionConfiguration" not in meta
    assert len(meta["CurrentKeyMaterialId"]) == 64
    assert meta == created


def test_key_ids_are_uuids(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    parts = key_id.split("-")
    assert [len(p) for p in parts] == [8, 4, 4, 4, 12]


def test_list_keys_pagination(kms: Any) -> None:
    ids = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(5)]
    first = kms.list_keys(Limit=2)
    assert first["Truncated"] is True and len(first["Keys"]) == 2
    seen = [k["KeyId"] for k in first["Keys"]]
    marker = first["NextMarker"]
    while marker:
        page = kms.list_keys(Limit=2, Marker=marker)
        seen += [k["KeyId"] for k in page["Keys"]]
        marker = page.get("NextMarker")
        assert page["Truncated"] is bool(marker)
    assert sorted(seen) == sorted(ids)
    assert all(k["KeyArn"] == key_arn(k["KeyId"]) for k in kms.list_keys()["Keys"])
    paginator = kms.get_paginator("list_keys")
    assert sorted(
        k["KeyId"] for page in paginator.paginate(PaginationConfig={"PageSize": 3}) for k in page["Keys"]
    ) == sorted(ids)


@covers("ListKeys", aspect="errors")
def test_bad_marker_is_refused(kms: Any) -> None:
    with pytest.raises(ClientError) as exc:
        kms.list_keys(Marker="not-a-marker")
    assert error_of(exc)[0] == "InvalidMarkerException"


def test_enable_disable_and_description(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("Disabled", False)
    kms.disable_key(KeyId=key_id)  # idempotent
    kms.enable_key(KeyId=key_arn(key_id))
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    kms.update_key_description(KeyId=key_id, Description="new words")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "new words"


@covers("DescribeKey", aspect="errors")
def test_unknown_key_and_invalid_key_id(kms: Any) -> None:
    missing = "11111111-2222-3333-4444-555555555555"
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=missing)
    assert error_of(exc) == ("NotFoundException", f"Key '{key_arn(missing)}' does not exist")
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId="not a key")
    assert error_of(exc)[0] == "NotFoundException"
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId="alias/nothing-here")
    assert error_of(exc) == (
        "NotFoundException",
        f"Alias arn:aws:kms:us-east-1:{ACCOUNT}:alias/nothing-here is not found.",
    )


def test_key_named_four_ways_where_aliases_are_allowed(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/four-ways", TargetKeyId=key_id)
    names = [key_id, key_arn(key_id), "alias/four-ways", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/four-ways"]
    for name in names:
        assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key_id
        blob = kms.encrypt(KeyId=name, Plaintext=b"x")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob, KeyId=name)["Plaintext"] == b"x"


@pytest.mark.parametrize(
    "call",
    [
        lambda kms, ref: kms.disable_key(KeyId=ref),
        lambda kms, ref: kms.enable_key(KeyId=ref),
        lambda kms, ref: kms.schedule_key_deletion(KeyId=ref),
        lambda kms, ref: kms.tag_resource(KeyId=ref, Tags=[{"TagKey": "a", "TagValue": "b"}]),
        lambda kms, ref: kms.get_key_policy(KeyId=ref, PolicyName="default"),
        lambda kms, ref: kms.create_grant(
            KeyId=ref, GranteePrincipal="arn:aws:iam::111122223333:root", Operations=["Encrypt"]
        ),
        lambda kms, ref: kms.enable_key_rotation(KeyId=ref),
    ],
)
def test_management_operations_refuse_aliases(kms: Any, call: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/mgmt", TargetKeyId=key_id)
    with pytest.raises(ClientError) as exc:
        call(kms, "alias/mgmt")
    assert error_of(exc)[0] == "NotFoundException"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_keys_are_per_region(kms_engine: Any, kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    west = kms_engine.boto3_client(region="eu-west-1")
    assert west.list_keys()["Keys"] == []
    with pytest.raises(ClientError) as exc:
        west.describe_key(KeyId=key_id)
    assert error_of(exc) == ("NotFoundException", f"Key '{key_arn(key_id, 'eu-west-1')}' does not exist")
    with pytest.raises(ClientError):
        west.describe_key(KeyId=key_arn(key_id))  # an ARN naming another region
    west_id = west.create_key()["KeyMetadata"]["KeyId"]
    assert west.describe_key(KeyId=west_id)["KeyMetadata"]["Arn"] == key_arn(west_id, "eu-west-1")
    assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [key_id]
