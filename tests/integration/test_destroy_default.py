"""The default kit's destroy keeps what the README says it keeps: the keys (usable) and the buckets (with their
objects), and the trail's log group. It runs last on the default kit (see ``conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import Kits
from tests.integration.destroy import Destroyed, assert_buckets_kept, destroy_kit, key_metadata


@pytest.fixture(scope="module")
def default_destroyed(kits: Kits) -> Iterator[Destroyed]:
    kit = kits.get("default")
    try:
        yield destroy_kit(kit)
    finally:
        kits.retire(kit)


def test_the_default_destroy_removes_the_stacks(default_destroyed: Destroyed) -> None:
    assert [line for line in default_destroyed.lines if "DELETE_COMPLETE" in line and "Stack" in line]
    assert not list((default_destroyed.kit.data_dir / "cloudformation").rglob("*.json"))


def test_the_default_destroy_keeps_the_keys_usable(default_destroyed: Destroyed) -> None:
    assert len(default_destroyed.keys) == 3  # data, audit, alerts
    for key_id, region in default_destroyed.keys.values():
        metadata = key_metadata(default_destroyed, key_id, region)
        assert metadata["KeyState"] == "Enabled" and "DeletionDate" not in metadata
    skipped = [line for line in default_destroyed.lines if "DELETE_SKIPPED" in line and "AWS::KMS::Key" in line]
    assert len(skipped) == 3


def test_the_default_destroy_keeps_the_buckets_and_their_objects(default_destroyed: Destroyed) -> None:
    assert_buckets_kept(default_destroyed)


def test_the_default_destroy_keeps_the_trail_log_group(default_destroyed: Destroyed) -> None:
    groups = default_destroyed.kit.client("logs").describe_log_groups(logGroupNamePrefix="/kmslab/cloudtrail")
    assert [g["logGroupName"] for g in groups["logGroups"]] == ["/kmslab/cloudtrail"]
