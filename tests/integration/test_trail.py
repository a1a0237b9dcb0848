"""The deployed trail: created with CloudTrail's checks, logging, and delivering files only the auditors read."""

from __future__ import annotations

import gzip
import json

import pytest
from botocore.exceptions import ClientError

from tests.integration.kit import Kit


def test_the_trail_logs_into_its_bucket_under_the_audit_key(kit: Kit) -> None:
    cloudtrail = kit.client("cloudtrail")
    name = kit.resource("KmslabTrail", "Trail")
    [trail] = cloudtrail.describe_trails(trailNameList=[name])["trailList"]
    assert trail["KmsKeyId"] == kit.resource("KmslabKeys", "AuditKey", "Arn")
    assert trail["S3BucketName"] == kit.resource("KmslabTrail", "TrailBucket")
    assert trail["LogFileValidationEnabled"] is True
    assert cloudtrail.get_trail_status(Name=name)["IsLogging"] is True


def test_delivered_files_are_read_by_the_auditor_and_not_by_a_key_user(kit: Kit) -> None:
    key = kit.resource("KmslabKeys", "DataKey")
    kit.as_role("kms", "kmslab-key-user").encrypt(KeyId=key, Plaintext=b"audited", EncryptionContext={"case": "it"})
    assert kit.cloud.recorder is not None
    kit.cloud.recorder.flush()
    bucket = kit.resource("KmslabTrail", "TrailBucket")
    auditor = kit.as_role("s3", "kmslab-auditor")
    keys = [o["Key"] for o in auditor.list_objects_v2(Bucket=bucket, Prefix="AWSLogs/")["Contents"]]
    logs = [k for k in keys if "/CloudTrail/us-east-1/" in k and k.endswith(".json.gz")]
    assert logs
    records = [
        r
        for k in logs
        for r in json.loads(gzip.decompress(auditor.get_object(Bucket=bucket, Key=k)["Body"].read()))["Records"]
    ]
    mine = [
        r
        for r in records
        if r["eventName"] == "Encrypt" and r["requestParameters"].get("encryptionContext") == {"case": "it"}
    ]
    assert len(mine) == 1 and mine[0]["userIdentity"]["type"] == "AssumedRole"
    with pytest.raises(ClientError) as exc:
        kit.as_role("s3", "kmslab-key-user").get_object(Bucket=bucket, Key=logs[0])
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
