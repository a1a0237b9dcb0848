"""S3 with real SSE-KMS: objects depend on the KMS key's state and the requester's KMS permissions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import botocore.exceptions
import pytest
from botocore.config import Config

from tests.cloud.conftest import Running

BODY = b"the workshop's secret notes " * 2000  # 56 KB: several AES-GCM segments are not needed, one is


def _err(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        call()
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Message", ""),
    )


def _stats(cloud: Running) -> dict[str, Any]:
    return cloud.cloud.gateway._stats["s3"]()


@pytest.fixture
def key(cloud: Running) -> str:
    return str(cloud.client("kms").create_key(Description="s3 data")["KeyMetadata"]["Arn"])


@pytest.fixture
def bucket(cloud: Running, unique: Callable[[str], str]) -> str:
    name = unique("data")
    cloud.client("s3", "alice").create_bucket(Bucket=name)
    return name


def test_put_and_get_with_sse_kms_round_trip_and_report_the_key(cloud: Running, key: str, bucket: str) -> None:
    s3 = cloud.client("s3", "alice")
    put = s3.put_object(Bucket=bucket, Key="n.txt", Body=BODY, ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == key
    got = s3.get_object(Bucket=bucket, Key="n.txt")
    assert got["Body"].read() == BODY
    assert got["SSEKMSKeyId"] == key
    head = s3.head_object(Bucket=bucket, Key="n.txt")
    assert head["ContentLength"] == len(BODY) and head["ServerSideEncryption"] == "aws:kms"


def test_each_put_and_get_calls_kms_as_the_requester(cloud: Running, key: str, bucket: str) -> None:
    s3 = cloud.client("s3", "alice")
    seen: list[Any] = []
    cloud.cloud.kms.add_sink(seen.append)
    try:
        s3.put_object(Bucket=bucket, Key="who", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
        s3.get_object(Bucket=bucket, Key="who")["Body"].read()
    finally:
        cloud.cloud.kms.remove_sink(seen.append)
    ops = [(c.operation, c.caller.arn, c.caller.invoked_by, c.request["EncryptionContext"]) for c in seen]
    context = {"aws:s3:arn": f"arn:aws:s3:::{bucket}/who"}
    assert ops == [
        ("GenerateDataKey", "arn:aws:iam::111122223333:user/alice", "s3.amazonaws.com", context),
        ("Decrypt", "arn:aws:iam::111122223333:user/alice", "s3.amazonaws.com", context),
    ]


def test_disabled_key_makes_get_fail_with_s3s_kms_error(cloud: Running, key: str, bucket: str) -> None:
    s3 = cloud.client("s3", "alice")
    s3.put_object(Bucket=bucket, Key="k", Body=BODY, ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    cloud.client("kms").disable_key(KeyId=key)
    code, status, message = _err(lambda: s3.get_object(Bucket=bucket, Key="k"))
    assert (code, status) == ("KMS.DisabledException", 400) and key in message
    code, _, _ = _err(
        lambda: s3.put_object(Bucket=bucket, Key="k2", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    )
    assert code == "KMS.DisabledException"
    cloud.client("kms").enable_key(KeyId=key)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == BODY


def test_key_pending_deletion_makes_get_fail(cloud: Running, key: str, bucket: str) -> None:
    s3 = cloud.client("s3", "alice")
    s3.put_object(Bucket=bucket, Key="k", Body=BODY, ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    cloud.client("kms").schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    code, status, message = _err(lambda: s3.get_object(Bucket=bucket, Key="k"))
    assert (code, status) == ("KMS.KMSInvalidStateException", 400) and "pending deletion" in message


def test_requester_without_kms_decrypt_cannot_read_even_with_s3_access(cloud: Running, key: str, bucket: str) -> None:
    cloud.client("s3", "alice").put_object(
        Bucket=bucket, Key="k", Body=BODY, ServerSideEncryption="aws:kms", SSEKMSKeyId=key
    )
    bob = cloud.client("s3", "bob")
    code, status, message = _err(lambda: bob.get_object(Bucket=bucket, Key="k"))
    assert (code, status) == ("AccessDenied", 403)
    assert "user/bob" in message and "kms:Decrypt" in message
    code, _, message = _err(
        lambda: bob.put_object(Bucket=bucket, Key="b", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    )
    assert code == "AccessDenied" and "kms:GenerateDataKey" in message
    assert bob.put_object(Bucket=bucket, Key="plain", Body=b"sse-s3")["ServerSideEncryption"] == "AES256"


def test_aws_kms_without_key_id_uses_the_aws_managed_key_created_on_first_use(cloud: Running, bucket: str) -> None:
    s3 = cloud.client("s3", "alice")
    first = s3.put_object(Bucket=bucket, Key="m1", Body=b"a", ServerSideEncryption="aws:kms")["SSEKMSKeyId"]
    second = s3.put_object(Bucket=bucket, Key="m2", Body=b"b", ServerSideEncryption="aws:kms")["SSEKMSKeyId"]
    assert first == second
    kms = cloud.client("kms")
    meta = kms.describe_key(KeyId=first)["KeyMetadata"]
    assert meta["Description"] == "Default key that protects my S3 objects when no other key is defined"
    assert kms.get_key_rotation_status(KeyId=first)["KeyRotationEnabled"] is True
    policy = json.loads(kms.get_key_policy(KeyId=first, PolicyName="default")["Policy"])
    assert policy["Statement"][0]["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-east-1.amazonaws.com"
    # The managed key works only through S3: a direct Encrypt is refused even to the admin.
    code, _, _ = _err(lambda: kms.encrypt(KeyId=first, Plaintext=b"x"))
    assert code == "AccessDeniedException"


def test_bucket_default_encryption_and_bucket_keys_cut_kms_calls(
    cloud: Running, key: str, unique: Callable[[str], str]
) -> None:
    s3 = cloud.client("s3", "alice")
    counts = {}
    for bucket_key in (False, True):
        name = unique("bk")
        s3.create_bucket(Bucket=name)
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
                        "BucketKeyEnabled": bucket_key,
                    }
                ]
            },
        )
        before = _stats(cloud)["kms_calls_total"]
        for i in range(20):
            put = s3.put_object(Bucket=name, Key=f"o{i}", Body=b"x")
            assert put["SSEKMSKeyId"] == key and put.get("BucketKeyEnabled", False) is bucket_key
        for i in range(20):
            assert s3.get_object(Bucket=name, Key=f"o{i}")["Body"].read() == b"x"
        counts[bucket_key] = _stats(cloud)["kms_calls_total"] - before
    assert counts[False] == 40
    assert counts[True] == 1  # one GenerateDataKey; its plaintext then serves every put and get


def test_concurrent_uploads_share_one_bucket_key(
    cloud: Running, key: str, unique: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``aws s3 cp --recursive`` uploads 10 files at once: they wait for one GenerateDataKey, not one each."""
    from concurrent.futures import ThreadPoolExecutor

    s3 = cloud.client("s3", "alice", config=Config(max_pool_connections=10, retries={"max_attempts": 1}))
    name = unique("bk-burst")
    s3.create_bucket(Bucket=name)
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}
    s3.put_bucket_encryption(
        Bucket=name, ServerSideEncryptionConfiguration={"Rules": [rule | {"BucketKeyEnabled": True}]}
    )
    keys = cloud.cloud.gateway._stats["s3"].__self__.keys  # the S3 service's SseKeys
    real = keys._kms

    def slow_kms(*args: Any) -> Any:  # widen the window in which the uploads race for the bucket key
        time.sleep(0.2)
        return real(*args)

    monkeypatch.setattr(keys, "_kms", slow_kms)
    before = _stats(cloud)["kms_calls"].get("GenerateDataKey", 0)
    with ThreadPoolExecutor(10) as pool:
        puts = list(pool.map(lambda i: s3.put_object(Bucket=name, Key=f"o{i}", Body=b"x"), range(10)))
    assert all(p["BucketKeyEnabled"] for p in puts)
    assert _stats(cloud)["kms_calls"].get("GenerateDataKey", 0) - before == 1
    assert keys._making == {}  # the per-bucket-key locks go once no upload waits on them


def test_a_bucket_key_made_across_a_key_policy_change_is_not_kept(
    cloud: Running, key: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = cloud.client("s3", "alice")
    kms = cloud.client("kms")
    keys = cloud.cloud.gateway._stats["s3"].__self__.keys  # the S3 service's SseKeys
    real = keys._kms
    changed: list[bool] = []

    def policy_changes_meanwhile(operation: str, *args: Any) -> Any:
        answer = real(operation, *args)
        if operation == "GenerateDataKey" and not changed:  # the policy changes while KMS answers
            policy = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
            kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy)
            changed.append(True)
        return answer

    monkeypatch.setattr(keys, "_kms", policy_changes_meanwhile)
    before = _stats(cloud)["kms_calls"].get("GenerateDataKey", 0)
    for name in ("first", "second"):
        s3.put_object(
            Bucket=bucket, Key=name, Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key, BucketKeyEnabled=True
        )
    # the first bucket key served only the upload it was made for: the second asked KMS again
    assert _stats(cloud)["kms_calls"].get("GenerateDataKey", 0) - before == 2
    assert s3.get_object(Bucket=bucket, Key="first")["Body"].read() == b"x"


def test_bucket_key_cache_is_dropped_when_the_key_is_disabled(cloud: Running, key: str, bucket: str) -> None:
    s3 = cloud.client("s3", "alice")
    s3.put_object(
        Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key, BucketKeyEnabled=True
    )
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    cloud.client("kms").disable_key(KeyId=key)
    code, _, _ = _err(lambda: s3.get_object(Bucket=bucket, Key="k"))
    assert code == "KMS.DisabledException"


def test_no_plaintext_under_the_data_dir(cloud: Running, key: str, bucket: str) -> None:
    s3 = cloud.client("s3", "alice")
    marker = b"PLAINTEXT-MARKER-4c1f9e"
    s3.put_object(Bucket=bucket, Key="kms", Body=marker * 100, ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    s3.put_object(Bucket=bucket, Key="s3", Body=marker * 100)
    s3.put_object(
        Bucket=bucket,
        Key="bk",
        Body=marker * 100,
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key,
        BucketKeyEnabled=True,
    )
    found = [p for p in cloud.data_dir.rglob("*") if p.is_file() and marker in p.read_bytes()]
    assert found == []
    assert s3.get_object(Bucket=bucket, Key="s3")["Body"].read() == marker * 100


def test_multipart_upload_with_sse_kms(cloud: Running, key: str, bucket: str) -> None:
    s3 = cloud.client("s3", "alice")
    up = s3.create_multipart_upload(Bucket=bucket, Key="big", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    part1 = bytes(range(256)) * (5 * 1024 * 4)  # 5 MiB
    part2 = b"tail" * 1000
    e1 = s3.upload_part(Bucket=bucket, Key="big", UploadId=up["UploadId"], PartNumber=1, Body=part1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="big", UploadId=up["UploadId"], PartNumber=2, Body=part2)["ETag"]
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    assert done["ETag"].endswith('-2"') and done["SSEKMSKeyId"] == key
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == part1 + part2
    ranged = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={len(part1) - 3}-{len(part1) + 2}")
    assert ranged["Body"].read() == part1[-3:] + part2[:3] and ranged["ContentRange"].startswith("bytes ")


def test_copy_object_reencrypts_under_the_target_key(cloud: Running, key: str, bucket: str) -> None:
    s3 = cloud.client("s3", "alice")
    other = cloud.client("kms").create_key()["KeyMetadata"]["Arn"]
    s3.put_object(Bucket=bucket, Key="src", Body=BODY, ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    copied = s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "src"},
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=other,
    )
    assert copied["SSEKMSKeyId"] == other
    cloud.client("kms").disable_key(KeyId=key)
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == BODY


def test_list_objects_v2_with_prefix_delimiter_and_pages(cloud: Running, bucket: str) -> None:
    s3 = cloud.client("s3", "alice")
    for name in ("a/1", "a/2", "b/1", "c"):
        s3.put_object(Bucket=bucket, Key=name, Body=b"x")
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "b/"] and [c["Key"] for c in top["Contents"]] == ["c"]
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 1})
        for o in page.get("Contents", [])
    ]
    assert keys == ["a/1", "a/2", "b/1", "c"]


def test_cloudtrail_records_show_s3_calling_kms_for_the_requester(cloud: Running, key: str, bucket: str) -> None:
    cloud.client("s3", "alice").put_object(
        Bucket=bucket, Key="trail", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key
    )
    recorder = cloud.cloud.recorder
    assert recorder is not None
    recorder.flush()
    records = [
        r
        for r in recorder.records()
        if r["eventName"] == "GenerateDataKey"
        and r["requestParameters"].get("encryptionContext", {}).get("aws:s3:arn") == f"arn:aws:s3:::{bucket}/trail"
    ]
    assert len(records) == 1
    identity = records[0]["userIdentity"]
    assert identity["arn"] == "arn:aws:iam::111122223333:user/alice" and identity["invokedBy"] == "s3.amazonaws.com"
    assert records[0]["sourceIPAddress"] == "s3.amazonaws.com"
    assert list((cloud.data_dir / "trail").rglob("*.json.gz"))


def test_head_object_needs_no_kms_and_alias_aws_s3_names_the_managed_key(cloud: Running, key: str, bucket: str) -> None:
    s3 = cloud.client("s3", "alice")
    s3.put_object(Bucket=bucket, Key="h", Body=b"head", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    cloud.client("kms").disable_key(KeyId=key)
    head = s3.head_object(Bucket=bucket, Key="h")  # metadata only: S3 does not call KMS
    assert head["ContentLength"] == 4 and head["SSEKMSKeyId"] == key
    by_alias = s3.put_object(
        Bucket=bucket, Key="a", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/aws/s3"
    )
    implicit = s3.put_object(Bucket=bucket, Key="b", Body=b"y", ServerSideEncryption="aws:kms")
    assert by_alias["SSEKMSKeyId"] == implicit["SSEKMSKeyId"] != key


def test_multipart_list_parts_uploads_and_abort(cloud: Running, key: str, bucket: str) -> None:
    s3 = cloud.client("s3", "alice")
    up = s3.create_multipart_upload(Bucket=bucket, Key="parts", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    upload_id = up["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="parts", UploadId=upload_id, PartNumber=3, Body=b"x" * 100)["ETag"]
    listed = s3.list_parts(Bucket=bucket, Key="parts", UploadId=upload_id)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed["Parts"]] == [(3, etag, 100)]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert {(u["Key"], u["UploadId"]) for u in uploads} >= {("parts", upload_id)}
    with pytest.raises(botocore.exceptions.ClientError) as wrong_key:  # an upload is found by its bucket and key too
        s3.list_parts(Bucket=bucket, Key="other", UploadId=upload_id)
    assert wrong_key.value.response["Error"]["Code"] == "NoSuchUpload"
    s3.abort_multipart_upload(Bucket=bucket, Key="parts", UploadId=upload_id)
    with pytest.raises(botocore.exceptions.ClientError) as gone:
        s3.list_parts(Bucket=bucket, Key="parts", UploadId=upload_id)
    assert gone.value.response["Error"]["Code"] == "NoSuchUpload"
    assert upload_id not in {u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])}
