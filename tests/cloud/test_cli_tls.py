"""The kit's TLS-only bucket policy with the real AWS CLI: refused over plain HTTP, allowed over HTTPS."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.cloud._awscli import AwsCli
from tests.cloud.conftest import Running


def _tls_only(running: Running, bucket: str) -> None:
    running.client("s3").create_bucket(Bucket=bucket)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    running.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def test_tls_only_policy_over_http_and_https(
    cloud: Running, http_cloud: Running, tmp_path: Path, unique: Callable[[str], str]
) -> None:
    note = tmp_path / "note.txt"
    note.write_text("over the wire")
    bucket = unique("tls")
    for running in (cloud, http_cloud):
        _tls_only(running, bucket)
    secure = AwsCli(cloud, tmp_path / "https", cloud.creds("admin"))
    plain = AwsCli(http_cloud, tmp_path / "http", http_cloud.creds("admin"))
    assert plain.env["AWS_ENDPOINT_URL"].startswith("http://") and "AWS_CA_BUNDLE" not in plain.env
    up = secure.run("s3", "cp", str(note), f"s3://{bucket}/note.txt")
    assert up.returncode == 0, up.stderr
    assert secure.run("s3", "cp", f"s3://{bucket}/note.txt", "-").stdout == "over the wire"
    refused = plain.run("s3", "cp", str(note), f"s3://{bucket}/note.txt")
    assert refused.returncode != 0
    assert "AccessDenied" in refused.stderr
    listing = plain.run("s3", "ls", f"s3://{bucket}/")
    assert listing.returncode != 0 and "AccessDenied" in listing.stderr
