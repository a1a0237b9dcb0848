"""The key-state table: every relevant operation against a key in each state, with AWS's codes and messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.kms.helpers import covers, error_of, import_material, key_arn

OK = None
DISABLED = "DisabledException"
INVALID = "KMSInvalidStateException"
UNSUPPORTED = "UnsupportedOperationException"

STATES = ("Enabled", "Disabled", "PendingDeletion", "PendingImport")

# operation -> expected outcome per state (Enabled, Disabled, PendingDeletion, PendingImport), from AWS's table.
USE = (OK, DISABLED, INVALID, INVALID)
MANAGE = (OK, OK, INVALID, OK)
ANY = (OK, OK, OK, OK)
TABLE: dict[str, tuple[str | None, ...]] = {
    "Encrypt": USE,
    "Decrypt": USE,
    "ReEncrypt": USE,
    "GenerateDataKey": USE,
    "GenerateDataKeyWithoutPlaintext": USE,
    "GenerateDataKeyPairWithoutPlaintext": USE,
    "CreateGrant": USE,
    # Rotation settings of an EXTERNAL key in PendingImport: footnote [6] of AWS's table.
    "EnableKeyRotation": (OK, DISABLED, INVALID, UNSUPPORTED),
    "DisableKeyRotation": (OK, DISABLED, INVALID, UNSUPPORTED),
    "RotateKeyOnDemand": (OK, DISABLED, INVALID, INVALID),
    "EnableKey": (OK, OK, INVALID, INVALID),
    "DisableKey": (OK, OK, INVALID, INVALID),
    "ScheduleKeyDeletion": (OK, OK, INVALID, OK),
    "CancelKeyDeletion": (INVALID, INVALID, OK, INVALID),
    # "?" in PendingDeletion: succeeds for a key that can rotate (rotation reported off, see test_rotation).
    "GetKeyRotationStatus": (OK, OK, OK, UNSUPPORTED),
    "ListKeyRotations": MANAGE,
    "CreateAlias": MANAGE,
    "TagResource": MANAGE,
    "UntagResource": MANAGE,
    "UpdateKeyDescription": MANAGE,
    "DescribeKey": ANY,
    "GetKeyPolicy": ANY,
    "PutKeyPolicy": ANY,
    "ListKeyPolicies": ANY,
    "ListGrants": ANY,
    "ListResourceTags": ANY,
}

POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},'
    '"Action":"kms:*","Resource":"*"}]}'
)


def _calls(other_key: str) -> dict[str, Callable[[Any, str, bytes], Any]]:
    return {
        "Encrypt": lambda k, key, blob: k.encrypt(KeyId=key, Plaintext=b"data"),
        "Decrypt": lambda k, key, blob: k.decrypt(CiphertextBlob=blob),
        "ReEncrypt": lambda k, key, blob: k.re_encrypt(CiphertextBlob=blob, DestinationKeyId=other_key),
        "GenerateDataKey": lambda k, key, blob: k.generate_data_key(KeyId=key, KeySpec="AES_256"),
        "GenerateDataKeyWithoutPlaintext": lambda k, key, blob: k.generate_data_key_without_plaintext(
            KeyId=key, NumberOfBytes=16
        ),
        "GenerateDataKeyPairWithoutPlaintext": lambda k, key, blob: k.generate_data_key_pair_without_plaintext(
            KeyId=key, KeyPairSpec="ECC_NIST_P256"
        ),
        "CreateGrant": lambda k, key, blob: k.create_grant(
            KeyId=key, GranteePrincipal="arn:aws:iam::111122223333:role/app", Operations=["Decrypt"]
        ),
        "EnableKeyRotation": lambda k, key, blob: k.enable_key_rotation(KeyId=key),
        "DisableKeyRotation": lambda k, key, blob: k.disable_key_rotation(KeyId=key),
        "RotateKeyOnDemand": lambda k, key, blob: k.rotate_key_on_demand(KeyId=key),
        "EnableKey": lambda k, key, blob: k.enable_key(KeyId=key),
        "DisableKey": lambda k, key, blob: k.disable_key(KeyId=key),
        "ScheduleKeyDeletion": lambda k, key, blob: k.schedule_key_deletion(KeyId=key, PendingWindowInDays=7),
        "CancelKeyDeletion": lambda k, key, blob: k.cancel_key_deletion(KeyId=key),
        "GetKeyRotationStatus": lambda k, key, blob: k.get_key_rotation_status(KeyId=key),
        "ListKeyRotations": lambda k, key, blob: k.list_key_rotations(KeyId=key),
        "CreateAlias": lambda k, key, blob: k.create_alias(AliasName="alias/state-test", TargetKeyId=key),
        "TagResource": lambda k, key, blob: k.tag_resource(KeyId=key, Tags=[{"TagKey": "k", "TagValue": "v"}]),
        "UntagResource": lambda k, key, blob: k.untag_resource(KeyId=key, TagKeys=["k"]),
        "UpdateKeyDescription": lambda k, key, blob: k.update_key_description(KeyId=key, Description="d"),
        "DescribeKey": lambda k, key, blob: k.describe_key(KeyId=key),
        "GetKeyPolicy": lambda k, key, blob: k.get_key_policy(KeyId=key, PolicyName="default"),
        "PutKeyPolicy": lambda k, key, blob: k.put_key_policy(KeyId=key, PolicyName="default", Policy=POLICY),
        "ListKeyPolicies": lambda k, key, blob: k.list_key_policies(KeyId=key),
        "ListGrants": lambda k, key, blob: k.list_grants(KeyId=key),
        "ListResourceTags": lambda k, key, blob: k.list_resource_tags(KeyId=key),
    }


def _key_in_state(kms: Any, state: str) -> tuple[str, bytes]:
    """A symmetric key in ``state`` and a ciphertext made under it while it was usable."""
    if state == "PendingImport":
        key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
        import_material(kms, key_id)
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"data")["CiphertextBlob"]
        kms.delete_imported_key_material(KeyId=key_id)
    else:
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"data")["CiphertextBlob"]
        if state == "Disabled":
            kms.disable_key(KeyId=key_id)
        elif state == "PendingDeletion":
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == state
    return key_id, blob


CASES = [(op, state, TABLE[op][i]) for op in TABLE for i, state in enumerate(STATES)]


@covers(*TABLE, aspect="states")
@pytest.mark.parametrize(("operation", "state", "expected"), CASES, ids=[f"{o}-{s}" for o, s, _ in CASES])
def test_key_state_table(kms: Any, operation: str, state: str, expected: str | None) -> None:
    key_id, blob = _key_in_state(kms, state)
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    call = _calls(other)[operation]
    if expected is None:
        call(kms, key_id, blob)
        return
    with pytest.raises(ClientError) as exc:
        call(kms, key_id, blob)
    code, message = error_of(exc)
    assert code == expected
    words = {
        "Disabled": "is disabled.",
        "PendingDeletion": "is pending deletion.",
        "PendingImport": "is pending import.",
        "Enabled": "is not pending deletion.",
    }[state]
    if operation == "CancelKeyDeletion":
        words = "is not pending deletion."
    if expected == UNSUPPORTED:
        words = "origin is EXTERNAL which is not valid for this operation."
    assert message == f"{key_arn(key_id)} {words}"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == state


def test_cancel_key_deletion_leaves_the_key_disabled(kms: Any) -> None:
    key_id, _ = _key_in_state(kms, "PendingDeletion")
    assert kms.cancel_key_deletion(KeyId=key_id)["KeyId"] == key_arn(key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("Disabled", False)
    assert "DeletionDate" not in meta and "PendingDeletionWindowInDays" not in meta


@covers("Sign", "GetPublicKey", "GenerateMac", aspect="states")
@pytest.mark.parametrize("state", ["Disabled", "PendingDeletion"])
def test_sign_and_mac_refused_by_state(kms: Any, state: str) -> None:
    signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    mac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    for key_id in (signer, mac):
        if state == "Disabled":
            kms.disable_key(KeyId=key_id)
        else:
            kms.schedule_key_deletion(KeyId=key_id)
    expected = DISABLED if state == "Disabled" else INVALID
    calls = [
        lambda: kms.sign(KeyId=signer, Message=b"m", SigningAlgorithm="ECDSA_SHA_256"),
        lambda: kms.get_public_key(KeyId=signer),
        lambda: kms.generate_mac(KeyId=mac, Message=b"m", MacAlgorithm="HMAC_SHA_256"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc)[0] == expected
