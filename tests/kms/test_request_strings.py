"""Request strings as AWS checks them: an unpaired surrogate or an oversized encryption context is a 400.

A JSON ``"\\ud800"`` escape decodes to a lone surrogate in Python. Before these checks, such a key or
value in an encryption context failed in the ciphertext encoding (UnicodeEncodeError) and a key or
value over 65,535 bytes in its 2-byte lengths (struct.error): both were 500 KMSInternalException.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.kms.helpers import error_of

LONE = "\ud800"
BIG = "x" * 65_536


def _calls(kms: Any, key_id: str, blob: bytes) -> dict[str, Callable[[dict[str, str]], Any]]:
    """One call per operation that takes an encryption context (8 in the KMS model)."""
    return {
        "Encrypt": lambda ec: kms.encrypt(KeyId=key_id, Plaintext=b"p", EncryptionContext=ec),
        "Decrypt": lambda ec: kms.decrypt(CiphertextBlob=blob, EncryptionContext=ec),
        "ReEncrypt(source)": lambda ec: kms.re_encrypt(
            CiphertextBlob=blob, SourceEncryptionContext=ec, DestinationKeyId=key_id
        ),
        "ReEncrypt(destination)": lambda ec: kms.re_encrypt(
            CiphertextBlob=blob, DestinationKeyId=key_id, DestinationEncryptionContext=ec
        ),
        "GenerateDataKey": lambda ec: kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=ec),
        "GenerateDataKeyWithoutPlaintext": lambda ec: kms.generate_data_key_without_plaintext(
            KeyId=key_id, KeySpec="AES_256", EncryptionContext=ec
        ),
        "GenerateDataKeyPair": lambda ec: kms.generate_data_key_pair(
            KeyId=key_id, KeyPairSpec="ECC_NIST_P256", EncryptionContext=ec
        ),
        "GenerateDataKeyPairWithoutPlaintext": lambda ec: kms.generate_data_key_pair_without_plaintext(
            KeyId=key_id, KeyPairSpec="ECC_NIST_P256", EncryptionContext=ec
        ),
        "CreateGrant(Subset)": lambda ec: kms.create_grant(
            KeyId=key_id,
            GranteePrincipal="arn:aws:iam::111122223333:role/app",
            Operations=["Decrypt"],
            Constraints={"EncryptionContextSubset": ec},
        ),
        "CreateGrant(Equals)": lambda ec: kms.create_grant(
            KeyId=key_id,
            GranteePrincipal="arn:aws:iam::111122223333:role/app",
            Operations=["Decrypt"],
            Constraints={"EncryptionContextEquals": ec},
        ),
    }


@pytest.mark.parametrize(
    ("case", "context", "says"),
    [
        ("lone surrogate value", {"a": LONE}, "unpaired surrogate"),
        ("lone surrogate key", {LONE: "a"}, "unpaired surrogate"),
        ("low surrogate inside a value", {"a": "ok\udc00ok"}, "unpaired surrogate"),
        ("value over 65535 bytes", {"a": BIG}, "65535 bytes"),
        ("key over 65535 bytes", {BIG: "a"}, "65535 bytes"),
        ("value over 65535 bytes in UTF-8", {"a": "\u00e9" * 32_768}, "65535 bytes"),
    ],
)
def test_bad_encryption_context_is_a_validation_error_in_every_operation(
    kms: Any, case: str, context: dict[str, str], says: str
) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"p")["CiphertextBlob"]
    calls = _calls(kms, key_id, blob)
    if says == "65535 bytes":  # a grant constraint value is capped at 384 characters before that
        calls = {name: call for name, call in calls.items() if not name.startswith("CreateGrant")}
    for name, call in calls.items():
        with pytest.raises(ClientError) as exc:
            call(context)
        code, message = error_of(exc)
        assert (code, exc.value.response["ResponseMetadata"]["HTTPStatusCode"]) == ("ValidationException", 400), name
        assert says in message, (name, message)
        assert LONE not in message and "\udc00" not in message


def test_largest_context_item_still_works(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    context = {"k" * 65_535: "v" * 65_535, "astral \U0001f600": "ok"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"p", EncryptionContext=context)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == b"p"


@pytest.mark.parametrize(
    "call",
    [
        lambda kms: kms.create_key(Description=f"bad {LONE}"),
        lambda kms: kms.create_key(Tags=[{"TagKey": "t", "TagValue": LONE}]),
        lambda kms: kms.create_key(Tags=[{"TagKey": LONE, "TagValue": "v"}]),
        lambda kms: kms.create_alias(AliasName=f"alias/{LONE}", TargetKeyId="1234abcd-12ab-34cd-56ef-1234567890ab"),
        lambda kms: kms.create_key(Policy='{"Version": "2012-10-17", "Statement": []}' + LONE),
        lambda kms: kms.describe_key(KeyId=f"alias/x{LONE}"),
    ],
)
def test_lone_surrogate_in_any_request_string_is_a_validation_error(kms: Any, call: Any) -> None:
    with pytest.raises(ClientError) as exc:
        call(kms)
    code, message = error_of(exc)
    assert code == "ValidationException"
    assert LONE not in message


def test_lone_surrogate_in_a_grant_name_or_description_update(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    for call in (
        lambda: kms.update_key_description(KeyId=key_id, Description=LONE),
        lambda: kms.create_grant(
            KeyId=key_id, GranteePrincipal="arn:aws:iam::111122223333:role/app", Operations=["Decrypt"], Name=LONE
        ),
        lambda: kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "t", "TagValue": f"x{LONE}"}]),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc)[0] == "ValidationException"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == ""
    assert kms.list_grants(KeyId=key_id)["Grants"] == []
