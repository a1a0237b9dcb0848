"""A logging trail delivers the cloud's records into its bucket: SSE-KMS under the trail's key, readable only
by whom the key policy allows, with signed digest files that validate-logs accepts and that catch tampering."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions
import pytest

from kmslab.cloud.cloudtrail import validate_logs
from tests.cloud.cloudtrail._policies import bucket_policy, key_policy
from tests.cloud.conftest import Running


class _Reader:
    """validate-logs' reads, through the endpoint as the auditor."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def get_object(self, bucket: str, key: str) -> tuple[bytes, Mapping[str, str]]:
        try:
            got = self.s3.get_object(Bucket=bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            raise KeyError(key) from None
        return got["Body"].read(), got["Metadata"]


@pytest.fixture
def trail(cloud: Running, unique: Callable[[str], str]) -> Iterator[dict[str, str]]:
    """A logging trail with SSE-KMS and log file validation; digests after every delivery."""
    account = cloud.cloud.kms.account
    name, bucket = unique("trail"), unique("trail-logs")
    arn = f"arn:aws:cloudtrail:us-east-1:{account}:trail/{name}"
    auditor = next(i["arn"] for i in cloud.ids["identities"] if i["arn"].endswith("/auditor"))
    s3, ct = cloud.client("s3"), cloud.client("cloudtrail")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, account, arn, prefix="audit"))
    key = cloud.client("kms").create_key(Policy=key_policy(account, auditor=auditor, source_arn=arn))
    ct.create_trail(
        Name=name, S3BucketName=bucket, S3KeyPrefix="audit", KmsKeyId=key["KeyMetadata"]["Arn"],
        EnableLogFileValidation=True,
    )  # fmt: skip
    ct.start_logging(Name=name)
    delivery = cloud.cloud.gateway.services["cloudtrail"].delivery
    delivery.digest_every_delivery = True
    yield {"name": name, "arn": arn, "bucket": bucket, "key": key["KeyMetadata"]["Arn"]}
    ct.delete_trail(Name=name)


def _deliver(cloud: Running) -> None:
    assert cloud.cloud.recorder is not None
    cloud.cloud.recorder.flush()


def _log_keys(cloud: Running, trail: dict[str, str], kind: str = "CloudTrail") -> list[str]:
    account = cloud.cloud.kms.account
    listed = cloud.client("s3").list_objects_v2(Bucket=trail["bucket"], Prefix=f"audit/AWSLogs/{account}/{kind}/")
    return [o["Key"] for o in listed.get("Contents", [])]


def test_the_trail_bucket_gets_encrypted_log_files_the_auditor_reads_and_a_key_user_cannot(
    cloud: Running, trail: dict[str, str]
) -> None:
    marker = cloud.client("kms").create_key(Description="delivered")["KeyMetadata"]["KeyId"]
    _deliver(cloud)
    keys = _log_keys(cloud, trail)
    account = cloud.cloud.kms.account
    assert keys and all(
        k.startswith(f"audit/AWSLogs/{account}/CloudTrail/us-east-1/")
        and k.rsplit("/", 1)[1].startswith(f"{account}_CloudTrail_us-east-1_")
        and k.endswith(".json.gz")
        for k in keys
    )
    auditor = cloud.client("s3", "auditor")
    records = []
    for key in keys:
        got = auditor.get_object(Bucket=trail["bucket"], Key=key)
        assert got["ServerSideEncryption"] == "aws:kms" and got["SSEKMSKeyId"] == trail["key"]
        records += json.loads(gzip.decompress(got["Body"].read()))["Records"]
    created = [r for r in records if r["eventName"] == "CreateKey"]
    assert any(marker in json.dumps(r) for r in created)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        cloud.client("s3", "alice").get_object(Bucket=trail["bucket"], Key=keys[0])
    assert "AccessDenied" in exc.value.response["Error"]["Code"]
    status = cloud.client("cloudtrail").get_trail_status(Name=trail["name"])
    assert "LatestDeliveryTime" in status and "LatestDeliveryError" not in status


def test_cloudtrail_encrypts_with_the_trail_arn_as_encryption_context(cloud: Running, trail: dict[str, str]) -> None:
    seen: list[Any] = []
    cloud.cloud.kms.add_sink(seen.append)
    try:
        cloud.client("kms").list_keys()
        _deliver(cloud)
    finally:
        cloud.cloud.kms.remove_sink(seen.append)
    made = [c for c in seen if c.operation == "GenerateDataKey" and c.caller.source_arn == trail["arn"]]
    assert made and all(c.caller.arn == "cloudtrail.amazonaws.com" for c in made)
    assert all(c.request["EncryptionContext"]["aws:cloudtrail:arn"] == trail["arn"] for c in made)


def test_a_key_policy_that_stops_cloudtrail_encrypting_is_a_delivery_error(
    cloud: Running, trail: dict[str, str]
) -> None:
    auditor = next(i["arn"] for i in cloud.ids["identities"] if i["arn"].endswith("/auditor"))
    policy = key_policy(cloud.cloud.kms.account, auditor=auditor, encrypt=False)
    _deliver(cloud)  # what was recorded under the good policy
    cloud.client("kms").put_key_policy(KeyId=trail["key"], PolicyName="default", Policy=policy)
    _deliver(cloud)
    before = _log_keys(cloud, trail)
    cloud.client("kms").list_keys()
    _deliver(cloud)
    assert _log_keys(cloud, trail) == before
    status = cloud.client("cloudtrail").get_trail_status(Name=trail["name"])
    assert "AccessDenied" in status["LatestDeliveryError"]


def _public_keys(cloud: Running) -> dict[str, bytes]:
    listed = cloud.client("cloudtrail", "auditor").list_public_keys(
        StartTime=datetime.now(UTC) - timedelta(days=1), EndTime=datetime.now(UTC)
    )["PublicKeyList"]
    # boto3 decodes the blob: Value is the DER key (the AWS CLI, which leaves blobs as text, decodes it itself)
    return {k["Fingerprint"]: k["Value"] for k in listed}


def test_digests_validate_and_tampering_is_reported(cloud: Running, trail: dict[str, str]) -> None:
    kms = cloud.client("kms")
    kms.list_keys()
    _deliver(cloud)
    kms.list_aliases()
    _deliver(cloud)
    digests = _log_keys(cloud, trail, "CloudTrail-Digest")
    assert len(digests) >= 2
    head = cloud.client("s3", "auditor").head_object(Bucket=trail["bucket"], Key=digests[-1])
    assert head["Metadata"]["signature-algorithm"] == "SHA256withRSA" and head["ServerSideEncryption"] == "AES256"
    reader = _Reader(cloud.client("s3", "auditor"))
    window = {"start": datetime.now(UTC) - timedelta(hours=1), "end": datetime.now(UTC) + timedelta(hours=1)}
    report = validate_logs(
        reader, trail_arn=trail["arn"], bucket=trail["bucket"], prefix="audit", public_keys=_public_keys(cloud),
        **window,
    )  # fmt: skip
    assert report.valid and len(report.digests) >= 2 and report.logs, report.summary()
    # tamper: the admin rewrites a delivered log file (same name, other records)
    victim = report.logs[0].uri.split("/", 3)[3]
    fake = gzip.compress(json.dumps({"Records": []}).encode())
    cloud.client("s3").put_object(Bucket=trail["bucket"], Key=victim, Body=fake)
    tampered = validate_logs(
        reader, trail_arn=trail["arn"], bucket=trail["bucket"], prefix="audit", public_keys=_public_keys(cloud),
        **window,
    )  # fmt: skip
    assert not tampered.valid and any(victim in r.uri and not r.valid for r in tampered.invalid())


def test_a_multi_region_trail_collects_every_region_and_a_single_region_one_only_its_own(
    cloud: Running, unique: Callable[[str], str]
) -> None:
    account = cloud.cloud.kms.account
    s3, ct = cloud.client("s3"), cloud.client("cloudtrail")
    made = {}
    for name, multi in ((unique("everywhere"), True), (unique("home-only"), False)):
        arn = f"arn:aws:cloudtrail:us-east-1:{account}:trail/{name}"
        s3.create_bucket(Bucket=name)
        s3.put_bucket_policy(Bucket=name, Policy=bucket_policy(name, account, arn))
        ct.create_trail(Name=name, S3BucketName=name, IsMultiRegionTrail=multi)
        ct.start_logging(Name=name)
        made[multi] = name
    try:
        west = cloud.client("kms", region_name="us-west-2").create_key(Description="west")["KeyMetadata"]["KeyId"]
        _deliver(cloud)
        for multi, bucket in made.items():
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"AWSLogs/{account}/CloudTrail/us-west-2/")
            bodies = [s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed.get("Contents", [])]
            assert any(west.encode() in gzip.decompress(b) for b in bodies) is multi
    finally:
        for name in made.values():
            ct.delete_trail(Name=name)


def test_digests_come_hourly_when_not_asked_per_delivery(cloud: Running, trail: dict[str, str]) -> None:
    delivery = cloud.cloud.gateway.services["cloudtrail"].delivery
    delivery.digest_every_delivery = False
    real_clock = delivery.clock
    try:
        cloud.client("kms").list_keys()
        _deliver(cloud)
        assert _log_keys(cloud, trail) and not _log_keys(cloud, trail, "CloudTrail-Digest")
        delivery.clock = lambda: real_clock() + timedelta(minutes=61)
        delivery.tick()
        digests = _log_keys(cloud, trail, "CloudTrail-Digest")
        assert len(digests) == 1
        body = cloud.client("s3", "auditor").get_object(Bucket=trail["bucket"], Key=digests[0])["Body"].read()
        document = json.loads(gzip.decompress(body))
        assert document["previousDigestSignature"] is None and document["logFiles"]
    finally:
        delivery.clock = real_clock
