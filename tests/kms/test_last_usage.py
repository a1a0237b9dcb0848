"""GetKeyLastUsage: answered from each key's own history of successful cryptographic operations."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmslab.kms import FixedClock, LocalKms
from tests.kms.conftest import START
from tests.kms.helpers import covers, error_of, key_arn


def test_a_new_key_has_no_last_usage_and_tracking_starts_at_creation(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    out = kms.get_key_last_usage(KeyId=key_id)
    assert out["KeyId"] == key_arn(key_id)
    assert not out.get("KeyLastUsage")
    assert out["TrackingStartDate"] == out["KeyCreationDate"]
    assert out["KeyCreationDate"].timestamp() == START.timestamp()


def test_last_usage_is_the_last_successful_cryptographic_operation(kms: Any, clock: FixedClock) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    clock.advance(timedelta(hours=1))
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    clock.advance(timedelta(hours=1))
    decrypted = kms.decrypt(CiphertextBlob=blob)
    usage = kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]
    assert usage["Operation"] == "Decrypt"
    assert usage["Timestamp"].timestamp() == (START + timedelta(hours=2)).timestamp()
    assert usage["KmsRequestId"] == decrypted["ResponseMetadata"]["RequestId"]
    # Failures, management calls and dry runs are not uses.
    clock.advance(timedelta(hours=1))
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"wrong": "context"})
    with pytest.raises(ClientError):
        kms.encrypt(KeyId=key_id, Plaintext=b"x", DryRun=True)
    kms.describe_key(KeyId=key_id)
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "t", "TagValue": "v"}])
    assert kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]["Operation"] == "Decrypt"


def test_re_encrypt_counts_for_both_keys(kms: Any) -> None:
    source = kms.create_key()["KeyMetadata"]["KeyId"]
    destination = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=source, Plaintext=b"x")["CiphertextBlob"]
    kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination)
    for key_id in (source, destination):
        assert kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]["Operation"] == "ReEncrypt"


def test_signing_and_encapsulation_are_tracked(kms: Any) -> None:
    signer = kms.create_key(KeySpec="ML_DSA_44", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.sign(KeyId=signer, Message=b"m", SigningAlgorithm="ML_DSA_SHAKE_256")
    assert kms.get_key_last_usage(KeyId=signer)["KeyLastUsage"]["Operation"] == "Sign"
    kem = kms.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyMetadata"]["KeyId"]
    kms.encapsulate(KeyId=kem, EncapsulationAlgorithm="ML_KEM")
    assert kms.get_key_last_usage(KeyId=kem)["KeyLastUsage"]["Operation"] == "Encapsulate"
    kms.get_public_key(KeyId=kem)  # not a cryptographic use
    assert kms.get_key_last_usage(KeyId=kem)["KeyLastUsage"]["Operation"] == "Encapsulate"


def test_last_usage_survives_a_restart(tmp_path: Path) -> None:
    clock = FixedClock(START)
    engine = LocalKms(tmp_path / "kms", clock=clock)
    key_id = engine.call("CreateKey", {})["KeyMetadata"]["KeyId"]
    clock.advance(timedelta(minutes=5))
    engine.call("GenerateDataKey", {"KeyId": key_id, "KeySpec": "AES_256"}, request_id="req-1")
    engine.close()
    again = LocalKms(tmp_path / "kms", clock=clock)
    try:
        usage = again.call("GetKeyLastUsage", {"KeyId": key_id})["KeyLastUsage"]
    finally:
        again.close()
    assert usage == {
        "Operation": "GenerateDataKey",
        "Timestamp": (START + timedelta(minutes=5)).timestamp(),
        "KmsRequestId": "req-1",
        "CloudTrailEventId": usage["CloudTrailEventId"],
    }
    assert len(usage["CloudTrailEventId"]) == 36


@covers("GetKeyLastUsage", aspect="states")
def test_last_usage_is_answered_in_every_key_state(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=key_id, Plaintext=b"x")
    kms.disable_key(KeyId=key_id)
    assert kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]["Operation"] == "Encrypt"
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]["Operation"] == "Encrypt"
    external = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    assert not kms.get_key_last_usage(KeyId=external).get("KeyLastUsage")


@covers("GetKeyLastUsage", aspect="errors")
def test_last_usage_of_an_unknown_key_or_an_alias(kms: Any) -> None:
    with pytest.raises(ClientError) as exc:
        kms.get_key_last_usage(KeyId="11111111-2222-3333-4444-555555555555")
    assert error_of(exc)[0] == "NotFoundException"
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/usage", TargetKeyId=key_id)
    with pytest.raises(ClientError) as exc:
        kms.get_key_last_usage(KeyId="alias/usage")
    assert error_of(exc)[0] == "NotFoundException"


def test_last_usage_is_written_without_waiting_for_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kmslab.kms import _usage

    monkeypatch.setattr(_usage, "FLUSH_SECONDS", 0.0)
    engine = LocalKms(tmp_path / "kms", clock=FixedClock(START))
    key_id = engine.call("CreateKey", {})["KeyMetadata"]["KeyId"]
    engine.call("Encrypt", {"KeyId": key_id, "Plaintext": "eA=="}, request_id="req-2")
    reader = LocalKms(tmp_path / "kms", clock=FixedClock(START))  # as a restart after a crash would see it
    try:
        usage = reader.call("GetKeyLastUsage", {"KeyId": key_id})["KeyLastUsage"]
    finally:
        reader.close()
        engine.close()
    assert usage["Operation"] == "Encrypt" and usage["KmsRequestId"] == "req-2"


def test_cloudtrail_event_id_is_the_event_id_of_the_calls_record(kms_engine: LocalKms, kms: Any) -> None:
    from kmslab.kms.seams import ApiCall
    from kmslab.trail import to_cloudtrail_record

    calls: list[ApiCall] = []
    kms_engine.add_sink(calls.append)
    key_id = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    record = to_cloudtrail_record(next(c for c in calls if c.operation == "GenerateMac"))
    usage = kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]
    assert usage["CloudTrailEventId"] == record["eventID"]
    assert usage["KmsRequestId"] == record["requestID"]
