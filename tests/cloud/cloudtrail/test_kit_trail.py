"""The kit's own templates get CloudTrail's verdict: the default kit deploys its trail through the local CloudTrail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import botocore.exceptions
import pytest

from kmslab.cloud.config import CloudConfig
from kmslab.cloud.deploy import Assembly
from kmslab.cloud.deploy.run import Connection, deploy
from kmslab.cloud.deploy.state import StackStore
from kmslab.cloud.deploy.types import default_registry
from kmslab.cloud.local import LocalCloud, build_cloud
from tests.assembly import synthesize_kit
from tests.cloud.conftest import NO_RETRY

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, Connection, list[str]]]:
    tmp = tmp_path_factory.mktemp("kit-trail")
    assembly = Assembly.read(synthesize_kit(tmp / "cdk.out"))
    cloud = build_cloud(CloudConfig(data_dir=tmp / "data", port=0, tls=True), warm_moto=False).start()
    try:
        ids = json.loads((tmp / "data" / "identities.json").read_text())
        admin = next(i for i in ids["identities"] if i["arn"].endswith("/admin"))
        conn = Connection(
            cloud.url, "us-east-1", ids["account"], admin["access_key_id"], admin["secret_access_key"],
            ca_bundle=str(tmp / "data" / "tls" / "ca.pem"),
        )  # fmt: skip
        lines: list[str] = []
        deploy(
            assembly, None, conn=conn, store=StackStore(tmp / "stacks"), registry=default_registry(), root=ROOT,
            echo=lines.append,
        )  # fmt: skip
        yield cloud, conn, lines
    finally:
        cloud.stop()


def _client(conn: Connection, service: str) -> object:
    return boto3.client(
        service,
        endpoint_url=conn.endpoint_url,
        region_name=conn.region,
        aws_access_key_id=conn.access_key_id,
        aws_secret_access_key=conn.secret_access_key,
        verify=conn.ca_bundle,
        config=NO_RETRY,
    )


def test_the_default_kit_creates_its_trail_with_the_audit_key_and_logging(
    deployed: tuple[LocalCloud, Connection, list[str]],
) -> None:
    _, conn, lines = deployed
    assert any("AWS::CloudTrail::Trail" in line and "CREATE_COMPLETE" in line for line in lines)
    ct = _client(conn, "cloudtrail")
    trails = ct.describe_trails()["trailList"]  # type: ignore[attr-defined]
    assert len(trails) == 1
    trail = trails[0]
    assert trail["KmsKeyId"].startswith(f"arn:aws:kms:us-east-1:{conn.account}:key/")
    assert trail["LogFileValidationEnabled"] is True
    assert ct.get_trail_status(Name=trail["Name"])["IsLogging"] is True  # type: ignore[attr-defined]


def test_turning_a_bucket_key_on_the_kits_trail_bucket_fails_the_trail_as_aws_would(
    deployed: tuple[LocalCloud, Connection, list[str]],
) -> None:
    _, conn, _ = deployed
    ct, s3 = _client(conn, "cloudtrail"), _client(conn, "s3")
    trail = ct.describe_trails()["trailList"][0]  # type: ignore[attr-defined]
    bucket, key = trail["S3BucketName"], trail["KmsKeyId"]
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}
    s3.put_bucket_encryption(  # type: ignore[attr-defined]
        Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{**rule, "BucketKeyEnabled": True}]}
    )
    try:
        # the kit's key policy gives CloudTrail GenerateDataKey* only: no kms:Decrypt for the Bucket Key
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            ct.update_trail(Name=trail["Name"], KmsKeyId=key)  # type: ignore[attr-defined]
        assert exc.value.response["Error"]["Code"] == "InsufficientEncryptionPolicyException"
    finally:
        s3.put_bucket_encryption(  # type: ignore[attr-defined]
            Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{**rule, "BucketKeyEnabled": False}]}
        )
    assert ct.update_trail(Name=trail["Name"], KmsKeyId=key)["KmsKeyId"] == key  # type: ignore[attr-defined]


def test_the_kits_trail_delivers_encrypted_log_files_into_its_bucket(
    deployed: tuple[LocalCloud, Connection, list[str]],
) -> None:
    cloud, conn, _ = deployed
    ct, s3 = _client(conn, "cloudtrail"), _client(conn, "s3")
    trail = ct.describe_trails()["trailList"][0]  # type: ignore[attr-defined]
    _client(conn, "kms").list_keys()  # type: ignore[attr-defined]
    assert cloud.recorder is not None
    cloud.recorder.flush()
    prefix = f"{trail.get('S3KeyPrefix') + '/' if trail.get('S3KeyPrefix') else ''}AWSLogs/{conn.account}/CloudTrail/"
    listed = s3.list_objects_v2(Bucket=trail["S3BucketName"], Prefix=prefix)  # type: ignore[attr-defined]
    status = ct.get_trail_status(Name=trail["Name"])  # type: ignore[attr-defined]
    assert listed.get("KeyCount", 0) >= 1, status
    head = s3.head_object(Bucket=trail["S3BucketName"], Key=listed["Contents"][0]["Key"])  # type: ignore[attr-defined]
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == trail["KmsKeyId"]
