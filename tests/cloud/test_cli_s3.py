"""``aws s3`` (the real AWS CLI v1) against the local cloud: SSE-KMS uploads, multipart, presigned URLs."""

from __future__ import annotations

import hashlib
import os
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cloud._awscli import AwsCli
from tests.cloud.conftest import Running


@pytest.fixture(scope="module")
def setup(cloud: Running, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A key alice may use (by alias), and the CLI as alice and as admin."""
    kms = cloud.client("kms")
    key = kms.create_key(Description="cli tests")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/cli-tests", TargetKeyId=key)
    home = tmp_path_factory.mktemp("aws-home")
    return {
        "key": key,
        "alice": AwsCli(cloud, home / "alice", cloud.creds("alice")),
        "admin": AwsCli(cloud, home / "admin", cloud.creds("admin")),
        "files": tmp_path_factory.mktemp("files"),
    }


def _bucket(cloud: Running, unique: Callable[[str], str]) -> str:
    name = unique("cli")
    cloud.client("s3").create_bucket(Bucket=name)
    return name


def _note(setup: dict[str, Any], name: str, data: bytes) -> Path:
    path = Path(setup["files"]) / name
    path.write_bytes(data)
    return path


def test_cp_with_sse_kms_and_a_key_id(cloud: Running, setup: dict[str, Any], unique: Callable[[str], str]) -> None:
    bucket = _bucket(cloud, unique)
    path = _note(setup, "with-key.txt", b"secret notes under the cli key")
    up = setup["alice"].run(
        "s3", "cp", str(path), f"s3://{bucket}/n.txt", "--sse", "aws:kms", "--sse-kms-key-id", "alias/cli-tests"
    )
    assert up.returncode == 0, up.stderr
    assert f"with-key.txt to s3://{bucket}/n.txt" in up.stdout
    head = setup["alice"].json("s3api", "head-object", "--bucket", bucket, "--key", "n.txt")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == setup["key"]
    down = setup["alice"].run("s3", "cp", f"s3://{bucket}/n.txt", "-")
    assert down.returncode == 0 and down.stdout == "secret notes under the cli key"
    stored = [p for p in (cloud.data_dir / "s3").rglob("*") if p.is_file()]
    assert not any(b"secret notes under the cli key" in p.read_bytes() for p in stored)


def test_cp_with_sse_kms_and_no_key_id_uses_aws_s3(
    cloud: Running, setup: dict[str, Any], unique: Callable[[str], str]
) -> None:
    bucket = _bucket(cloud, unique)
    path = _note(setup, "managed.txt", b"under the AWS managed key")
    up = setup["alice"].run("s3", "cp", str(path), f"s3://{bucket}/m.txt", "--sse", "aws:kms")
    assert up.returncode == 0, up.stderr
    head = setup["alice"].json("s3api", "head-object", "--bucket", bucket, "--key", "m.txt")
    managed = cloud.client("kms").describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert head["SSEKMSKeyId"] == managed["Arn"] and managed["KeyManager"] == "AWS"


def test_cp_under_a_bucket_default(cloud: Running, setup: dict[str, Any], unique: Callable[[str], str]) -> None:
    bucket = _bucket(cloud, unique)
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": setup["key"]}}
    cloud.client("s3").put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]})
    path = _note(setup, "default.txt", b"the bucket chooses the key")
    up = setup["alice"].run("s3", "cp", str(path), f"s3://{bucket}/d.txt")
    assert up.returncode == 0, up.stderr
    head = setup["alice"].json("s3api", "head-object", "--bucket", bucket, "--key", "d.txt")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == setup["key"]
    cloud.client("kms").disable_key(KeyId=setup["key"])
    try:
        refused = setup["alice"].run("s3", "cp", f"s3://{bucket}/d.txt", "-")
        assert refused.returncode != 0
        assert "KMS.DisabledException" in refused.stderr
    finally:
        cloud.client("kms").enable_key(KeyId=setup["key"])


def test_cp_of_a_large_file_goes_multipart(cloud: Running, setup: dict[str, Any], unique: Callable[[str], str]) -> None:
    bucket = _bucket(cloud, unique)
    data = os.urandom(20 * 1024 * 1024)  # the CLI's default 8 MiB threshold and chunk: three parts
    path = _note(setup, "large.bin", data)
    up = setup["alice"].run(
        "s3", "cp", str(path), f"s3://{bucket}/large.bin", "--sse", "aws:kms", "--sse-kms-key-id", setup["key"]
    )
    assert up.returncode == 0, up.stderr
    head = setup["alice"].json("s3api", "head-object", "--bucket", bucket, "--key", "large.bin")
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload's ETag names its part count
    assert head["ContentLength"] == len(data) and head["SSEKMSKeyId"] == setup["key"]
    target = Path(setup["files"]) / "large-copy.bin"
    down = setup["alice"].run("s3", "cp", f"s3://{bucket}/large.bin", str(target))
    assert down.returncode == 0, down.stderr
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest()


def _get(url: str, ca: str) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=ca)
    try:
        with urllib.request.urlopen(url, context=context, timeout=10) as answer:  # noqa: S310 - the test cloud
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_presigned_url_works_then_expires(cloud: Running, setup: dict[str, Any], unique: Callable[[str], str]) -> None:
    bucket = _bucket(cloud, unique)
    path = _note(setup, "shared.txt", b"shared for a while")
    assert (
        setup["admin"]
        .run("s3", "cp", str(path), f"s3://{bucket}/s.txt", "--sse", "aws:kms", "--sse-kms-key-id", setup["key"])
        .returncode
        == 0
    )
    url = setup["admin"].run("s3", "presign", f"s3://{bucket}/s.txt", "--expires-in", "300").stdout.strip()
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Expires=300" in url
    assert _get(url, str(cloud.ca)) == (200, b"shared for a while")
    short = setup["admin"].run("s3", "presign", f"s3://{bucket}/s.txt", "--expires-in", "1").stdout.strip()
    time.sleep(2.1)
    status, body = _get(short, str(cloud.ca))
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"Request has expired" in body


def test_sigv2_presigned_url_of_an_sse_kms_object_is_refused(
    cloud: Running, setup: dict[str, Any], unique: Callable[[str], str], tmp_path: Path
) -> None:
    """The CLI v1 presigns with SigV2 by default; S3 wants SigV4 for SSE-KMS objects, as on AWS."""
    bucket = _bucket(cloud, unique)
    path = _note(setup, "v2.txt", b"v2")
    assert setup["admin"].run("s3", "cp", str(path), f"s3://{bucket}/v.txt", "--sse", "aws:kms").returncode == 0
    v2 = AwsCli(cloud, tmp_path / "v2", cloud.creds("admin"), sigv4_presign=False)
    url = v2.run("s3", "presign", f"s3://{bucket}/v.txt").stdout.strip()
    assert "Signature=" in url and "X-Amz-Algorithm" not in url
    status, body = _get(url, str(cloud.ca))
    assert status == 400 and b"require AWS Signature Version 4" in body
