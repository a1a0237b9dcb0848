"""More cells of AWS's key-state table: import operations, pair generation, verification, replication, grants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.kms.helpers import covers, error_of, import_material

OK = None
DISABLED = "DisabledException"
INVALID = "KMSInvalidStateException"
STATES = ("Enabled", "Disabled", "PendingDeletion", "PendingImport")


def _into(kms: Any, key_id: str, state: str) -> None:
    if state == "Disabled":
        kms.disable_key(KeyId=key_id)
    elif state == "PendingDeletion":
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    elif state == "PendingImport":
        kms.delete_imported_key_material(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == state


# Imported-material operations on an EXTERNAL key (whose material was imported, then the key moved).
IMPORT_TABLE: dict[str, tuple[str | None, ...]] = {
    "GetParametersForImport": (OK, OK, INVALID, OK),
    "ImportKeyMaterial": (OK, OK, INVALID, OK),
    "DeleteImportedKeyMaterial": (OK, OK, OK, OK),  # pending deletion: allowed, the state does not change
}


@covers(*IMPORT_TABLE, aspect="states")
@pytest.mark.parametrize("operation", sorted(IMPORT_TABLE))
@pytest.mark.parametrize("state", STATES)
def test_import_operations_by_state(kms: Any, operation: str, state: str) -> None:
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    material = import_material(kms, key_id)
    _into(kms, key_id, state)
    calls: dict[str, Callable[[], Any]] = {
        "GetParametersForImport": lambda: kms.get_parameters_for_import(
            KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        ),
        "ImportKeyMaterial": lambda: import_material(kms, key_id, material),
        "DeleteImportedKeyMaterial": lambda: kms.delete_imported_key_material(KeyId=key_id),
    }
    expected = IMPORT_TABLE[operation][STATES.index(state)]
    if expected is None:
        calls[operation]()
        after = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
        if operation == "DeleteImportedKeyMaterial":
            assert after == ("PendingImport" if state in ("Enabled", "Disabled") else state)
        return
    with pytest.raises(ClientError) as exc:
        calls[operation]()
    assert error_of(exc)[0] == expected


USE = (OK, DISABLED, INVALID)
KEY_TABLE: dict[str, tuple[str | None, ...]] = {
    "GenerateDataKeyPair": USE,
    "Verify": USE,
    "VerifyMac": USE,
    "ReplicateKey": USE,
    "RevokeGrant": (OK, OK, OK),
    "RetireGrant": (OK, OK, OK),
    "ListAliases": (OK, OK, OK),
}


@covers(*KEY_TABLE, aspect="states")
@pytest.mark.parametrize("operation", sorted(KEY_TABLE))
@pytest.mark.parametrize("state", STATES[:3])
def test_key_operations_by_state(kms: Any, operation: str, state: str) -> None:
    symmetric = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    signature = kms.sign(KeyId=signer, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    mac = kms.generate_mac(KeyId=mac_key, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    grants = [
        kms.create_grant(KeyId=symmetric, GranteePrincipal="arn:aws:iam::111122223333:role/app", Operations=["Decrypt"])
        for _ in range(2)
    ]
    kms.create_alias(AliasName="alias/state", TargetKeyId=symmetric)
    for key_id in (symmetric, signer, mac_key):
        _into(kms, key_id, state)
    calls: dict[str, Callable[[], Any]] = {
        "GenerateDataKeyPair": lambda: kms.generate_data_key_pair(KeyId=symmetric, KeyPairSpec="ECC_NIST_P256"),
        "Verify": lambda: kms.verify(KeyId=signer, Message=b"m", Signature=signature, SigningAlgorithm="ECDSA_SHA_256"),
        "VerifyMac": lambda: kms.verify_mac(KeyId=mac_key, Message=b"m", Mac=mac, MacAlgorithm="HMAC_SHA_256"),
        "ReplicateKey": lambda: kms.replicate_key(KeyId=symmetric, ReplicaRegion="eu-west-1"),
        "RevokeGrant": lambda: kms.revoke_grant(KeyId=symmetric, GrantId=grants[0]["GrantId"]),
        "RetireGrant": lambda: kms.retire_grant(GrantToken=grants[1]["GrantToken"]),
        "ListAliases": lambda: kms.list_aliases(KeyId=symmetric),
    }
    expected = KEY_TABLE[operation][STATES.index(state)]
    if expected is None:
        calls[operation]()
        return
    with pytest.raises(ClientError) as exc:
        calls[operation]()
    assert error_of(exc)[0] == expected
