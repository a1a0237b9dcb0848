"""Key rotation: automatic by the clock, on demand, old ciphertexts still decrypt, ListKeyRotations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.kms.conftest import START
from tests.kms.helpers import covers, error_of, key_arn


def _material_id(kms: Any, key_id: str) -> str:
    return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"])


def test_rotation_status_defaults_and_period(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key_id)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True and status["KeyId"] == key_arn(key_id)
    assert status["RotationPeriodInDays"] == 365
    assert status["NextRotationDate"] == START + timedelta(days=365)
    kms.disable_key_rotation(KeyId=key_id)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is False and "NextRotationDate" not in status


@covers("EnableKeyRotation", aspect="errors")
@pytest.mark.parametrize("days", [89, 2561])
def test_rotation_period_bounds(kms_engine: Any, days: int) -> None:
    client = kms_engine.boto3_client(parameter_validation=False)
    key_id = client.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as exc:
        client.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=days)
    code, message = error_of(exc)
    assert code == "ValidationException" and "rotationPeriodInDays" in message


def test_automatic_rotation_when_the_clock_passes(kms_engine: Any, kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    first_material = _material_id(kms, key_id)
    old = kms.encrypt(KeyId=key_id, Plaintext=b"before rotation")["CiphertextBlob"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    kms_engine.advance_time(timedelta(days=89))
    assert _material_id(kms, key_id) == first_material
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []
    kms_engine.advance_time(timedelta(days=1))
    second_material = _material_id(kms, key_id)
    assert second_material != first_material
    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [(r["RotationType"], r["RotationDate"], r["KeyMaterialId"], r["KeyMaterialState"]) for r in rotations] == [
        ("AUTOMATIC", START + timedelta(days=90), second_material, "CURRENT")
    ]
    assert kms.get_key_rotation_status(KeyId=key_id)["NextRotationDate"] == START + timedelta(days=180)
    # Old ciphertext decrypts with the old backing key; new ciphertext uses the new one.
    decrypted = kms.decrypt(CiphertextBlob=old)
    assert decrypted["Plaintext"] == b"before rotation" and decrypted["KeyMaterialId"] == first_material
    assert kms.encrypt(KeyId=key_id, Plaintext=b"after")["CiphertextBlob"] != old
    assert (
        kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=key_id, Plaintext=b"n")["CiphertextBlob"])["KeyMaterialId"]
        == second_material
    )
    # Passing several periods at once rotates once per period.
    kms_engine.advance_time(timedelta(days=200))
    assert len(kms.list_key_rotations(KeyId=key_id)["Rotations"]) == 3
    everything = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert everything[0]["KeyMaterialId"] == first_material and "RotationType" not in everything[0]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before rotation"


def test_disabled_keys_do_not_rotate_until_enabled(kms_engine: Any, kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    kms.disable_key(KeyId=key_id)
    kms_engine.advance_time(timedelta(days=100))
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []
    kms.enable_key(KeyId=key_id)
    kms_engine.advance_time(timedelta(seconds=1))
    assert len(kms.list_key_rotations(KeyId=key_id)["Rotations"]) == 1


def test_a_key_disabled_for_several_periods_rotates_once_when_enabled(kms_engine: Any, kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    kms.disable_key(KeyId=key_id)
    kms_engine.advance_time(timedelta(days=400))  # four rotation dates pass while the key is disabled
    enabled_at = kms_engine.clock.now()
    kms.enable_key(KeyId=key_id)
    kms_engine.advance_time(timedelta(hours=1))
    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]
    assert rotations[0]["RotationDate"] == enabled_at
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["NextRotationDate"] == enabled_at + timedelta(days=90)


def test_rotate_on_demand(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blobs = [kms.encrypt(KeyId=key_id, Plaintext=b"v0")["CiphertextBlob"]]
    for i in range(1, 4):
        assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == key_arn(key_id)
        blobs.append(kms.encrypt(KeyId=key_id, Plaintext=f"v{i}".encode())["CiphertextBlob"])
    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"] * 3
    assert [r["KeyMaterialState"] for r in rotations] == ["NON_CURRENT", "NON_CURRENT", "CURRENT"]
    assert [kms.decrypt(CiphertextBlob=b)["Plaintext"] for b in blobs] == [b"v0", b"v1", b"v2", b"v3"]
    page = kms.list_key_rotations(KeyId=key_id, Limit=2)
    assert page["Truncated"] is True and len(page["Rotations"]) == 2


@covers("RotateKeyOnDemand", aspect="errors")
def test_on_demand_rotation_limit(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(25):
        kms.rotate_key_on_demand(KeyId=key_id)
    with pytest.raises(ClientError) as exc:
        kms.rotate_key_on_demand(KeyId=key_id)
    assert error_of(exc)[0] == "LimitExceededException"


@covers("EnableKeyRotation", "DisableKeyRotation", aspect="errors")
@pytest.mark.parametrize(
    "create",
    [
        {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"},
        {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
        {"Origin": "EXTERNAL"},
    ],
    ids=["asymmetric", "hmac", "imported"],
)
def test_rotation_unsupported_for_asymmetric_hmac_and_imported(kms: Any, create: dict[str, str]) -> None:
    key_id = kms.create_key(**create)["KeyMetadata"]["KeyId"]
    if create.get("Origin") == "EXTERNAL":
        from tests.kms.helpers import import_material

        import_material(kms, key_id)
    imported = create.get("Origin") == "EXTERNAL"
    # Imported keys rotate on demand only, to new imported material (see test_import_rotation).
    calls = (kms.enable_key_rotation, kms.disable_key_rotation) + (() if imported else (kms.rotate_key_on_demand,))
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call(KeyId=key_id)
        code, message = error_of(exc)
        assert code == "UnsupportedOperationException" and key_arn(key_id) in message


def test_rotation_status_of_a_key_pending_deletion_is_off_until_deletion_is_cancelled(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is False and "NextRotationDate" not in status
    kms.cancel_key_deletion(KeyId=key_id)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 90
