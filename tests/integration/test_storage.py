"""The deployed KmslabKeys and KmslabStorage stacks behave as the README says, as the kit's own principals."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from kmslab.cloud.server import CloudServer
from tests.integration.kit import Kit


def test_the_deploy_reports_each_resource_and_each_stack(kit: Kit) -> None:
    assert any("| CREATE_COMPLETE " in line and "AWS::KMS::Key" in line for line in kit.lines)
    done = [line.split()[1] for line in kit.lines if line.lstrip().startswith("✅")]
    assert done == ["KmslabKeys", "KmslabStorage", "KmslabTrail", "KmslabAnalytics", "KmslabAlerting"]
    assert all(r.status == "CREATE_COMPLETE" for r in kit.stacks.values())


def test_the_data_key_rotates_with_the_configured_period(kit: Kit) -> None:
    kms = kit.client("kms")
    key = kit.resource("KmslabKeys", "DataKey")
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 365


def test_a_key_user_encrypts_and_decrypts_with_the_data_key(kit: Kit) -> None:
    kms = kit.as_role("kms", "kmslab-key-user")
    key = kit.resource("KmslabKeys", "DataKey")
    blob = kms.encrypt(KeyId=key, Plaintext=b"kit")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kit"


def test_a_key_administrator_manages_but_cannot_decrypt(kit: Kit) -> None:
    key = kit.resource("KmslabKeys", "DataKey")
    blob = kit.as_role("kms", "kmslab-key-user").encrypt(KeyId=key, Plaintext=b"kit")["CiphertextBlob"]
    admin = kit.as_role("kms", "kmslab-key-admin")
    assert admin.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
    with pytest.raises(ClientError) as exc:
        admin.decrypt(CiphertextBlob=blob)
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"


def test_a_principal_outside_both_gets_nothing(kit: Kit) -> None:
    key = kit.resource("KmslabKeys", "DataKey")
    with pytest.raises(ClientError) as exc:
        kit.client("kms", "bob").encrypt(KeyId=key, Plaintext=b"kit")
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"ServerSideEncryption": "AES256"}, "another encryption"),
        ({"ServerSideEncryption": "aws:kms"}, "aws:kms with no key id would use aws/s3"),
        ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "OTHER"}, "another KMS key"),
    ],
)
def test_the_bucket_policy_refuses_other_encryption(kit: Kit, extra: dict[str, str], why: str) -> None:
    s3 = kit.client("s3")
    bucket = kit.resource("KmslabStorage", "DataBucket")
    if extra.get("SSEKMSKeyId") == "OTHER":
        extra = {**extra, "SSEKMSKeyId": kit.client("kms").create_key()["KeyMetadata"]["Arn"]}
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key=f"refused-{len(extra)}", Body=b"x", **extra)
    assert exc.value.response["Error"]["Code"] == "AccessDenied", why


def test_an_upload_under_the_data_key_is_ciphertext_with_a_bucket_key(kit: Kit) -> None:
    s3 = kit.as_role("s3", "kmslab-key-user")
    bucket = kit.resource("KmslabStorage", "DataBucket")
    key_arn = (
        kit.stacks["KmslabKeys"]
        .resources[
            next(lid for lid in kit.stacks["KmslabKeys"].resources if lid.startswith("DataKey") and "Alias" not in lid)
        ]
        .attributes["Arn"]
    )
    put = s3.put_object(
        Bucket=bucket, Key="notes.txt", Body=b"secret notes", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn
    )
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == key_arn
    assert put["BucketKeyEnabled"] is True
    assert s3.get_object(Bucket=bucket, Key="notes.txt")["Body"].read() == b"secret notes"
    stored = b"".join(p.read_bytes() for p in (kit.data_dir / "s3").rglob("*") if p.is_file())
    assert b"secret notes" not in stored


def test_plain_http_is_refused_by_the_tls_only_policy(kit: Kit) -> None:
    # The same cloud (one gateway, one state) reached over http:// as well, as S3's endpoints answer both on AWS.
    # The key user's signed requests are allowed by IAM and the key policy; over HTTP, the bucket policy's
    # aws:SecureTransport=false deny refuses them.
    bucket = kit.resource("KmslabStorage", "DataBucket")
    key_arn = kit.resource("KmslabKeys", "DataKey", "Arn")
    args = {"Bucket": bucket, "Key": "over-http.txt", "Body": b"x", "ServerSideEncryption": "aws:kms"}
    over_https = kit.as_role("s3", "kmslab-key-user")
    over_https.put_object(**args, SSEKMSKeyId=key_arn)
    plain = CloudServer(kit.cloud.gateway, host="127.0.0.1", port=0, ssl_context=None).start()
    try:
        over_http = kit.as_role("s3", "kmslab-key-user", endpoint=plain.url())
        for call in (
            lambda: over_http.list_objects_v2(Bucket=bucket),
            lambda: over_http.get_object(Bucket=bucket, Key="over-http.txt"),
            lambda: over_http.put_object(Bucket=bucket, Key="plain.txt", Body=b"x"),
        ):
            with pytest.raises(ClientError) as exc:
                call()
            assert exc.value.response["Error"]["Code"] == "AccessDenied"
        # an upload naming SSE-KMS over HTTP is refused by S3 itself, before any policy: "Requests specifying
        # Server Side Encryption with AWS KMS managed keys must be made over a secure connection."
        with pytest.raises(ClientError) as exc:
            over_http.put_object(**args, SSEKMSKeyId=key_arn)
        assert exc.value.response["Error"]["Code"] == "InvalidArgument"
        assert "secure connection" in exc.value.response["Error"]["Message"]
    finally:
        plain.stop()
    # the very same calls over HTTPS are accepted: the refusals above were the transport
    assert [o["Key"] for o in over_https.list_objects_v2(Bucket=bucket, Prefix="over-http")["Contents"]] == [
        "over-http.txt"
    ]
    assert over_https.get_object(Bucket=bucket, Key="over-http.txt")["Body"].read() == b"x"


def test_outside_the_key_users_nobody_reads_the_object(kit: Kit) -> None:
    bucket = kit.resource("KmslabStorage", "DataBucket")
    key_arn = kit.resource("KmslabKeys", "DataKey", "Arn")
    user = kit.as_role("s3", "kmslab-key-user")
    user.put_object(Bucket=bucket, Key="private.txt", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)
    for other in (kit.as_role("s3", "kmslab-key-admin"), kit.client("s3", "bob")):
        with pytest.raises(ClientError) as exc:
            other.get_object(Bucket=bucket, Key="private.txt")
        assert exc.value.response["Error"]["Code"] == "AccessDenied"
