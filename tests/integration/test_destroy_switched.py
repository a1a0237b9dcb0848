"""With ``removal=destroy``, destroy schedules every key's deletion with its ``PendingWindowInDays`` and deletes the
trail's log group; the buckets stay (README: "Buckets are retained"). It runs last on the all-switches kit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Kits
from tests.integration.destroy import Destroyed, assert_buckets_kept, destroy_kit, key_metadata
from tests.integration.kit import REPLICA_REGION


@pytest.fixture(scope="module")
def switched_destroyed(kits: Kits) -> Iterator[Destroyed]:
    kit = kits.get("switched")
    try:
        yield destroy_kit(kit)
    finally:
        kits.retire(kit)


def test_removal_destroy_schedules_every_key_deletion_with_its_window(switched_destroyed: Destroyed) -> None:
    d = switched_destroyed
    assert len(d.keys) == 7
    states = {}
    for lid, (key_id, region) in d.keys.items():
        metadata = key_metadata(d, key_id, region)
        states[lid] = metadata["KeyState"]
        if metadata["KeyState"] == "PendingDeletion":
            waited = metadata["DeletionDate"] - d.when  # type: ignore[operator]
            assert timedelta(days=7) - timedelta(minutes=5) <= waited <= timedelta(days=7, minutes=5), lid
    primary = next(lid for lid in d.keys if lid.startswith("MultiRegionKey") and "Replica" not in lid)
    # "If you schedule the deletion of a multi-Region primary key that has replica keys, its key state changes to
    # PendingReplicaDeletion" until the replicas are deleted (KMS Developer Guide, "Deleting multi-Region keys").
    assert states.pop(primary) in ("PendingReplicaDeletion", "PendingDeletion")
    assert set(states.values()) == {"PendingDeletion"}
    replica_id, region = next(v for lid, v in d.keys.items() if "Replica" in lid)
    assert region == REPLICA_REGION


def test_removal_destroy_deletes_the_trail_log_group_and_keeps_the_buckets(switched_destroyed: Destroyed) -> None:
    groups = switched_destroyed.kit.client("logs").describe_log_groups(logGroupNamePrefix="/kmslab/cloudtrail")
    assert groups["logGroups"] == []
    assert_buckets_kept(switched_destroyed)


def test_removal_destroy_keys_refuse_use_while_pending_deletion(switched_destroyed: Destroyed) -> None:
    d = switched_destroyed
    key_id, region = next(v for lid, v in d.keys.items() if lid.startswith("DataKey"))
    with pytest.raises(ClientError) as exc:
        d.kit.client("kms", region=region).encrypt(KeyId=key_id, Plaintext=b"x")
    assert exc.value.response["Error"]["Code"] == "KMSInvalidStateException"
    assert "is pending deletion" in exc.value.response["Error"]["Message"]
