"""UpdatePrimaryRegion, the transient Updating state, and the deletion rules of a primary with replicas."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmslab.kms import FixedClock, LocalKms
from tests.kms.helpers import covers, error_of, key_arn


@pytest.fixture
def mrk(kms_engine: LocalKms, kms: Any) -> tuple[str, Any, Any]:
    """A multi-Region primary in us-east-1 with replicas in eu-west-1 and ap-south-1; clients for both."""
    key_id = str(kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"])
    kms.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1")
    kms.replicate_key(KeyId=key_id, ReplicaRegion="ap-south-1")
    return key_id, kms, kms_engine.boto3_client(region="eu-west-1")


def _config(client: Any, key_id: str) -> dict[str, Any]:
    return dict(client.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"])


def test_update_primary_region_swaps_roles_and_passes_through_updating(
    mrk: tuple[str, Any, Any], clock: FixedClock, kms_engine: LocalKms
) -> None:
    key_id, east, west = mrk
    east.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
    east.update_primary_region(KeyId=key_id, PrimaryRegion="eu-west-1")
    for client in (east, west):
        meta = client.describe_key(KeyId=key_id)["KeyMetadata"]
        assert meta["KeyState"] == "Updating" and meta["Enabled"] is True
    blob = east.encrypt(KeyId=key_id, Plaintext=b"still usable")["CiphertextBlob"]  # crypto works while Updating
    with pytest.raises(ClientError) as exc:
        west.disable_key(KeyId=key_id)
    assert error_of(exc)[0] == "KMSInvalidStateException"
    clock.advance(timedelta(seconds=10))
    config = _config(west, key_id)
    assert config["MultiRegionKeyType"] == "PRIMARY"
    assert config["PrimaryKey"] == {"Arn": key_arn(key_id, "eu-west-1"), "Region": "eu-west-1"}
    assert sorted(r["Region"] for r in config["ReplicaKeys"]) == ["ap-south-1", "us-east-1"]
    assert _config(east, key_id)["MultiRegionKeyType"] == "REPLICA"
    south = kms_engine.boto3_client(region="ap-south-1")
    assert _config(south, key_id)["PrimaryKey"]["Region"] == "eu-west-1"
    assert east.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"still usable"
    # Rotation belongs to the primary: now managed in eu-west-1, refused on the new replica.
    assert west.get_key_rotation_status(KeyId=key_id)["RotationPeriodInDays"] == 180
    with pytest.raises(ClientError) as exc:
        east.enable_key_rotation(KeyId=key_id)
    assert error_of(exc)[0] == "UnsupportedOperationException"
    west.replicate_key(KeyId=key_id, ReplicaRegion="us-west-2")  # only the primary replicates


@covers("UpdatePrimaryRegion", aspect="errors")
def test_update_primary_region_errors(mrk: tuple[str, Any, Any], kms: Any) -> None:
    key_id, east, west = mrk
    with pytest.raises(ClientError) as exc:
        east.update_primary_region(KeyId=key_id, PrimaryRegion="us-west-2")
    assert error_of(exc)[0] == "NotFoundException"
    with pytest.raises(ClientError) as exc:
        west.update_primary_region(KeyId=key_id, PrimaryRegion="us-east-1")
    assert error_of(exc)[0] == "UnsupportedOperationException"
    single = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.update_primary_region(KeyId=single, PrimaryRegion="eu-west-1")
    assert error_of(exc)[0] == "UnsupportedOperationException"


@covers("UpdatePrimaryRegion", aspect="states")
def test_both_keys_must_be_enabled(mrk: tuple[str, Any, Any]) -> None:
    key_id, east, west = mrk
    west.disable_key(KeyId=key_id)
    with pytest.raises(ClientError) as exc:
        east.update_primary_region(KeyId=key_id, PrimaryRegion="eu-west-1")
    assert error_of(exc)[0] == "DisabledException"
    west.enable_key(KeyId=key_id)
    east.disable_key(KeyId=key_id)
    with pytest.raises(ClientError) as exc:
        east.update_primary_region(KeyId=key_id, PrimaryRegion="eu-west-1")
    assert error_of(exc)[0] == "DisabledException"
    east.enable_key(KeyId=key_id)
    east.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    with pytest.raises(ClientError) as exc:
        east.update_primary_region(KeyId=key_id, PrimaryRegion="eu-west-1")
    code, message = error_of(exc)
    assert code == "KMSInvalidStateException" and message.endswith("is pending replica deletion.")


def test_a_primary_with_replicas_waits_for_them_before_its_own_waiting_period(
    mrk: tuple[str, Any, Any], clock: FixedClock, kms_engine: LocalKms
) -> None:
    key_id, east, west = mrk
    out = east.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyState"] == "PendingReplicaDeletion" and "DeletionDate" not in out
    south = kms_engine.boto3_client(region="ap-south-1")
    west.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    south.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=10)
    clock.advance(timedelta(days=8))
    assert east.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingReplicaDeletion"
    clock.advance(timedelta(days=3))  # the last replica is gone: the primary's own 7 days start then
    meta = east.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    clock.advance(timedelta(days=8))
    with pytest.raises(ClientError) as exc:
        east.describe_key(KeyId=key_id)
    assert error_of(exc)[0] == "NotFoundException"


def test_after_an_update_the_old_primary_can_be_deleted_like_any_replica(
    mrk: tuple[str, Any, Any], clock: FixedClock
) -> None:
    key_id, east, west = mrk
    east.update_primary_region(KeyId=key_id, PrimaryRegion="eu-west-1")
    clock.advance(timedelta(seconds=10))
    out = east.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyState"] == "PendingDeletion"
    clock.advance(timedelta(days=8))
    regions = [r["Region"] for r in _config(west, key_id)["ReplicaKeys"]]
    assert regions == ["ap-south-1"]
