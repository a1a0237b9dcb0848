"""Trails and the digest signing keys outlive a restart of the cloud (validate-logs needs the old public keys)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from cryptography.hazmat.primitives import serialization

from kmslab.cloud.config import CloudConfig
from kmslab.cloud.local import build_cloud
from kmslab.cloud.services.docstore import DocStore
from tests.cloud.cloudtrail._policies import bucket_policy
from tests.cloud.conftest import NO_RETRY


def _clients(url: str, data: Path) -> tuple[object, object]:
    ids = json.loads((data / "identities.json").read_text())
    admin = next(i for i in ids["identities"] if i["arn"].endswith("/admin"))
    creds = {"aws_access_key_id": admin["access_key_id"], "aws_secret_access_key": admin["secret_access_key"]}
    make = lambda service: boto3.client(  # noqa: E731
        service, endpoint_url=url, region_name="us-east-1", config=NO_RETRY, **creds
    )
    return make("cloudtrail"), make("s3")


def test_a_trail_and_the_signing_keys_survive_a_restart(tmp_path: Path) -> None:
    since = datetime.now(UTC) - timedelta(days=1)
    cloud = build_cloud(CloudConfig(data_dir=tmp_path, port=0, tls=False), warm_moto=False).start()
    try:
        ct, s3 = _clients(cloud.url, tmp_path)
        account = cloud.kms.account
        arn = f"arn:aws:cloudtrail:us-east-1:{account}:trail/kept"
        s3.create_bucket(Bucket="kept-logs")  # type: ignore[attr-defined]
        s3.put_bucket_policy(Bucket="kept-logs", Policy=bucket_policy("kept-logs", account, arn))  # type: ignore[attr-defined]
        ct.create_trail(Name="kept", S3BucketName="kept-logs", EnableLogFileValidation=True)  # type: ignore[attr-defined]
        ct.start_logging(Name="kept")  # type: ignore[attr-defined]
        before = ct.list_public_keys(StartTime=since)["PublicKeyList"]  # type: ignore[attr-defined]
    finally:
        cloud.stop()
    again = build_cloud(CloudConfig(data_dir=tmp_path, port=0, tls=False), warm_moto=False).start()
    try:
        ct, _ = _clients(again.url, tmp_path)
        assert ct.get_trail(Name="kept")["Trail"]["TrailARN"] == arn  # type: ignore[attr-defined]
        assert ct.get_trail_status(Name="kept")["IsLogging"] is True  # type: ignore[attr-defined]
        after = ct.list_public_keys(StartTime=since)["PublicKeyList"]  # type: ignore[attr-defined]
        assert [k["Fingerprint"] for k in after] == [k["Fingerprint"] for k in before]
        assert after[0]["Value"] == before[0]["Value"]
    finally:
        again.stop()
    docs = DocStore(tmp_path / "services.sqlite3")
    try:
        saved = docs.get("cloudtrail-digest-keys", "keys")
    finally:
        docs.close()
    assert saved is not None
    for entry in saved["keys"]["us-east-1"]:  # sealed: not a private key as stored
        with pytest.raises(ValueError):
            serialization.load_der_private_key(bytes.fromhex(entry["wrapped"]), password=None)


def test_records_of_the_last_moments_before_a_stop_reach_the_trail_bucket(tmp_path: Path) -> None:
    cloud = build_cloud(CloudConfig(data_dir=tmp_path, port=0, tls=False), warm_moto=False).start()
    try:
        ct, s3 = _clients(cloud.url, tmp_path)
        account = cloud.kms.account
        arn = f"arn:aws:cloudtrail:us-east-1:{account}:trail/last"
        s3.create_bucket(Bucket="last-logs")  # type: ignore[attr-defined]
        s3.put_bucket_policy(Bucket="last-logs", Policy=bucket_policy("last-logs", account, arn))  # type: ignore[attr-defined]
        ct.create_trail(Name="last", S3BucketName="last-logs")  # type: ignore[attr-defined]
        ct.start_logging(Name="last")  # type: ignore[attr-defined]
        assert cloud.recorder is not None
        cloud.recorder.flush()
        kms = boto3.client(
            "kms", endpoint_url=cloud.url, region_name="us-east-1", config=NO_RETRY,
            aws_access_key_id=s3._request_signer._credentials.access_key,  # type: ignore[attr-defined]
            aws_secret_access_key=s3._request_signer._credentials.secret_key,  # type: ignore[attr-defined]
        )  # fmt: skip
        key_id = kms.create_key(Description="just before the stop")["KeyMetadata"]["KeyId"]
    finally:
        cloud.stop()  # no flush in between: the stop itself must deliver
    again = build_cloud(CloudConfig(data_dir=tmp_path, port=0, tls=False), warm_moto=False).start()
    try:
        _, s3 = _clients(again.url, tmp_path)
        listed = s3.list_objects_v2(Bucket="last-logs", Prefix=f"AWSLogs/{account}/CloudTrail/")  # type: ignore[attr-defined]
        bodies = [
            s3.get_object(Bucket="last-logs", Key=o["Key"])["Body"].read()  # type: ignore[attr-defined]
            for o in listed.get("Contents", [])
        ]
        assert any(key_id.encode() in gzip.decompress(body) for body in bodies)
    finally:
        again.stop()
