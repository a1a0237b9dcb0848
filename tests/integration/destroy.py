"""Destroying a deployed kit, for the destroy tests (``test_destroy_*.py``), the last tests of a configuration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tests.integration.kit import Kit

KEY_TYPES = ("AWS::KMS::Key", "AWS::KMS::ReplicaKey")


@dataclass
class Destroyed:
    kit: Kit
    keys: dict[str, tuple[str, str]]  # logical id -> (key id, Region)
    buckets: list[str]
    lines: list[str]
    when: datetime


def destroy_kit(kit: Kit) -> Destroyed:
    """Put an object in the data bucket, then destroy every stack, consumers first."""
    keys = {
        r.logical_id: (r.physical_id, record.region)
        for record in kit.stacks.values()
        for r in record.resources.values()
        if r.type in KEY_TYPES
    }
    buckets = [
        r.physical_id for rec in kit.stacks.values() for r in rec.resources.values() if r.type == "AWS::S3::Bucket"
    ]
    data_bucket = kit.resource("KmslabStorage", "DataBucket")
    data_key = kit.resource("KmslabKeys", "DataKey")
    if kit.client("kms").describe_key(KeyId=data_key)["KeyMetadata"]["KeyState"] == "Disabled":
        kit.client("kms").enable_key(KeyId=data_key)  # left disabled by on_use=cancel in the scenario
    kit.as_role("s3", "kmslab-key-user").put_object(
        Bucket=data_bucket,
        Key="kept.txt",
        Body=b"still here",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=kit.resource("KmslabKeys", "DataKey", "Arn"),
    )
    lines: list[str] = []
    deployer = kit.deployer(lines.append)
    when = datetime.now(UTC)
    for name in reversed(list(kit.stacks)):  # consumers first, as cdk destroy orders them
        deployer.destroy(name, region=kit.stacks[name].region)
    return Destroyed(kit, keys, buckets, lines, when)


def key_metadata(d: Destroyed, key_id: str, region: str) -> dict[str, object]:
    return dict(d.kit.client("kms", region=region).describe_key(KeyId=key_id)["KeyMetadata"])


def assert_buckets_kept(d: Destroyed) -> None:
    s3 = d.kit.client("s3")
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert set(d.buckets) <= names and len(d.buckets) == 6  # data, trail, query results, and their access logs
    data = next(b for b in d.buckets if b.startswith("kmslabstorage-databucket"))
    assert s3.head_object(Bucket=data, Key="kept.txt")["ServerSideEncryption"] == "aws:kms"
