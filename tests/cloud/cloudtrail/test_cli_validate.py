"""``aws cloudtrail validate-logs`` itself (the AWS CLI, when installed) against the local cloud's trail bucket."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.cloud.cloudtrail._policies import bucket_policy, key_policy
from tests.cloud.conftest import Running

# the AWS CLI that `make install` puts in the venv, next to this interpreter (never whatever `aws` is on PATH)
AWS = Path(sys.executable).with_name("aws")


def _validate(cloud: Running, arn: str, start: str) -> subprocess.CompletedProcess[str]:
    auditor = cloud.creds("auditor")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_ENDPOINT_URL": cloud.url,  # the CLI's S3 clients take the endpoint from the environment
        "AWS_CA_BUNDLE": str(cloud.ca),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": auditor["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": auditor["aws_secret_access_key"],
    }
    command = [str(AWS), "cloudtrail", "validate-logs", "--trail-arn", arn, "--start-time", start, "--verbose"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, check=False)


def test_validate_logs_passes_on_untouched_logs_and_reports_a_modified_and_a_deleted_file(cloud: Running) -> None:
    account = cloud.cloud.kms.account
    arn = f"arn:aws:cloudtrail:us-east-1:{account}:trail/cli-checked"
    auditor = next(i["arn"] for i in cloud.ids["identities"] if i["arn"].endswith("/auditor"))
    s3, ct, kms = cloud.client("s3"), cloud.client("cloudtrail"), cloud.client("kms")
    s3.create_bucket(Bucket="cli-checked-logs")
    s3.put_bucket_policy(Bucket="cli-checked-logs", Policy=bucket_policy("cli-checked-logs", account, arn))
    key = kms.create_key(Policy=key_policy(account, auditor=auditor, source_arn=arn))["KeyMetadata"]["Arn"]
    ct.create_trail(Name="cli-checked", S3BucketName="cli-checked-logs", KmsKeyId=key, EnableLogFileValidation=True)
    ct.start_logging(Name="cli-checked")
    cloud.cloud.gateway.services["cloudtrail"].delivery.digest_every_delivery = True
    start = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cloud.cloud.recorder is not None
    for _ in range(3):
        kms.list_keys()
        cloud.cloud.recorder.flush()
        time.sleep(1.1)  # each digest ends in its own second
    good = _validate(cloud, arn, start)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "3/3 digest files valid" in good.stdout and "INVALID" not in good.stdout + good.stderr
    logs = sorted(
        o["Key"]
        for o in s3.list_objects_v2(Bucket="cli-checked-logs", Prefix=f"AWSLogs/{account}/CloudTrail/")["Contents"]
    )
    s3.put_object(Bucket="cli-checked-logs", Key=logs[0], Body=gzip.compress(b'{"Records":[]}'))
    s3.delete_object(Bucket="cli-checked-logs", Key=logs[-1])
    bad = _validate(cloud, arn, start)
    assert bad.returncode != 0
    report = bad.stdout + bad.stderr  # the CLI writes INVALID lines to stderr
    assert f"s3://cli-checked-logs/{logs[0]}\tINVALID: hash value doesn't match" in report
    assert f"s3://cli-checked-logs/{logs[-1]}\tINVALID: not found" in report
