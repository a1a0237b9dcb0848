"""Chapter 5 of the lab (``workshop/05-s3.md``): S3 with SSE-KMS on the kit's data bucket.

Alice (the kit's key-user role) uploads without any encryption header: the bucket's default
encryption (SSE-KMS under the data key, Bucket Key on) applies. The steps count S3's calls to KMS
with and without a Bucket Key, show the bucket policy refusing other encryption, the sharing lessons
(public ACL, a user without KMS permission, a presigned URL that expires) and a disabled key.
"""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from kmslab.lab._steps import Fact, LabContext, Step, show_refusal

NOTES = b"Meeting notes: the launch moves to Thursday. Do not share outside the team."
KEY = "notes.txt"
UPLOADS = 5


def bucket(ctx: LabContext) -> str:
    """The kit's data bucket (its physical name, as ``aws s3api list-buckets`` shows it)."""
    return str(ctx.lab.resource("KmslabStorage", "DataBucket"))


def _data_key_arn(ctx: LabContext) -> str:
    return str(ctx.kms.describe_key(KeyId="alias/kmslab/data")["KeyMetadata"]["Arn"])


def at_rest_holds(ctx: LabContext, plaintext: bytes) -> list[str]:
    """The files under the cloud's S3 directory that contain ``plaintext`` (none, when encrypted at rest)."""
    root = ctx.lab.data_dir / "s3"
    return [str(p) for p in root.rglob("*") if p.is_file() and plaintext in p.read_bytes()]


def upload(ctx: LabContext) -> Sequence[Fact]:
    """Alice uploads with no encryption header; default encryption applies."""
    s3 = ctx.client("alice", service="s3")
    name = bucket(ctx)
    put = s3.put_object(Bucket=name, Key=KEY, Body=NOTES)
    head = s3.head_object(Bucket=name, Key=KEY)
    arn = _data_key_arn(ctx)
    ctx.expect(
        put["ServerSideEncryption"] == "aws:kms", f"the object is SSE-KMS, got {put.get('ServerSideEncryption')}"
    )
    ctx.expect(head["SSEKMSKeyId"] == arn, f"under the data key, got {head.get('SSEKMSKeyId')}")
    ctx.expect(head.get("BucketKeyEnabled") is True, "written with a Bucket Key")
    ctx.expect(s3.get_object(Bucket=name, Key=KEY)["Body"].read() == NOTES, "Alice reads it back in plaintext")
    ctx.expect(at_rest_holds(ctx, NOTES) == [], "no file of the cloud's S3 store holds the plaintext")
    ctx.state["bucket"] = name
    return [
        ("bucket", name),
        ("PutObject (no encryption header)", f"ServerSideEncryption {put['ServerSideEncryption']}"),
        ("SSEKMSKeyId", head["SSEKMSKeyId"]),
        ("BucketKeyEnabled", str(head["BucketKeyEnabled"])),
        ("at rest", "ciphertext: no stored file contains the notes"),
    ]


def _s3_kms_calls(ctx: LabContext) -> int:
    """S3's calls to KMS on the data key so far, from CloudTrail (``invokedBy`` s3.amazonaws.com).

    Counted per key from the trail, not from the cloud's S3 counter: the trail's own deliveries to its
    bucket (under the audit key) call KMS too, at moments of their own.
    """
    arn = _data_key_arn(ctx)
    records = ctx.recorder.records() if ctx.recorder is not None else []
    return sum(
        1
        for r in records
        if (r.get("userIdentity") or {}).get("invokedBy") == "s3.amazonaws.com"
        and r.get("eventName", "").startswith("GenerateDataKey")
        and arn in [res.get("ARN") for res in r.get("resources") or []]
    )


def bucket_keys(ctx: LabContext) -> Sequence[Fact]:
    """Upload a few objects with the Bucket Key, then with it switched off per request, and count KMS calls."""
    s3 = ctx.client("alice", service="s3")
    name, arn = bucket(ctx), _data_key_arn(ctx)
    before = _s3_kms_calls(ctx)
    for n in range(UPLOADS):
        s3.put_object(Bucket=name, Key=f"with-bucket-key/{n}.txt", Body=b"x" * 100)
    with_key = _s3_kms_calls(ctx) - before
    before = _s3_kms_calls(ctx)
    for n in range(UPLOADS):
        s3.put_object(
            Bucket=name,
            Key=f"without-bucket-key/{n}.txt",
            Body=b"x" * 100,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=arn,
            BucketKeyEnabled=False,
        )
    without = _s3_kms_calls(ctx) - before
    ctx.expect(without == UPLOADS, f"without a Bucket Key every upload calls KMS: {UPLOADS} calls, saw {without}")
    ctx.expect(with_key < without, f"with the Bucket Key S3 calls KMS less: {with_key} vs {without}")
    return [
        (f"{UPLOADS} uploads with the Bucket Key", f"{with_key} call(s) from S3 to KMS"),
        (f"{UPLOADS} uploads without it", f"{without} calls (one GenerateDataKey per object)"),
    ]


def wrong_key_refused(ctx: LabContext) -> Sequence[Fact]:
    """The bucket policy refuses SSE-S3 and any other KMS key."""
    s3 = ctx.client("alice", service="s3")
    name = bucket(ctx)
    sse_s3 = ctx.expect_error(
        lambda: s3.put_object(Bucket=name, Key="sse-s3.txt", Body=b"x", ServerSideEncryption="AES256"),
        "AccessDenied",
    )
    other = ctx.expect_error(
        lambda: s3.put_object(
            Bucket=name, Key="other-key.txt", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/aws/s3"
        ),
        "AccessDenied",
    )
    return [("PutObject with AES256", show_refusal(sse_s3)), ("PutObject under alias/aws/s3", show_refusal(other))]


def public_acl_fails(ctx: LabContext) -> Sequence[Fact]:
    """A public ACL is refused, and an anonymous GET of an SSE-KMS object gets nothing."""
    s3 = ctx.client("admin", service="s3")
    name = bucket(ctx)
    try:
        s3.put_object_acl(Bucket=name, Key=KEY, ACL="public-read")
        acl = "accepted"
    except Exception as exc:  # AccessControlListNotSupported / AccessDenied: both keep the object private
        acl = show_refusal(exc)
    ctx.expect(acl != "accepted", "S3 refuses to make the object public")
    status, body = _anonymous_get(ctx, f"{ctx.lab.url}/{name}/{KEY}")
    ctx.expect(status == 403 and NOTES not in body, f"an anonymous GET is refused, got HTTP {status}")
    return [("PutObjectAcl public-read", acl), ("anonymous GET", f"HTTP {status}, nothing released")]


def _anonymous_get(ctx: LabContext, url: str) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=ctx.lab.ca_file)
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as answer:  # noqa: S310 - the lab's own cloud
            return int(answer.status), bytes(answer.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def bob_denied(ctx: LabContext) -> Sequence[Fact]:
    """Bob may read S3 but not use the key: S3 refuses him the object."""
    bob = ctx.client("bob", service="s3")
    refused = ctx.expect_error(
        lambda: bob.get_object(Bucket=bucket(ctx), Key=KEY), "AccessDenied", message_contains="kms:Decrypt"
    )
    return [("Bob GetObject", show_refusal(refused))]


def presigned(ctx: LabContext) -> Sequence[Fact]:
    """Alice shares a presigned URL: it works, then expires."""
    import boto3
    from botocore.config import Config

    # An SSE-KMS object is only served to a SigV4 request: presign with s3v4 (AWS refuses SigV2 with
    # InvalidArgument "Requests specifying Server Side Encryption with AWS KMS managed keys require
    # AWS Signature Version 4.").
    s3 = boto3.client(
        "s3",
        endpoint_url=ctx.lab.url,
        region_name="us-east-1",
        verify=ctx.lab.ca_file,
        config=Config(signature_version="s3v4"),
        **ctx.lab.credentials("alice"),
    )
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket(ctx), "Key": KEY}, ExpiresIn=2)
    status, body = _anonymous_get(ctx, url)
    ctx.expect(
        status == 200 and body == NOTES, f"the presigned URL returns the notes, got HTTP {status}: {body[:300]!r}"
    )
    time.sleep(3)
    late, answer = _anonymous_get(ctx, url)
    ctx.expect(late == 403 and b"expired" in answer, f"after 2 s the URL has expired, got HTTP {late}")
    return [
        ("presigned GET (expires in 2 s)", f"HTTP {status}, {len(body)} bytes: the notes"),
        ("3 s later", f"HTTP {late}, Request has expired"),
    ]


def disabled_key(ctx: LabContext) -> Sequence[Fact]:
    """Disable the data key: the objects cannot be read; enable it again."""
    s3 = ctx.client("alice", service="s3")
    arn = _data_key_arn(ctx)
    ctx.kms.disable_key(KeyId=arn)
    try:
        refused = ctx.expect_error(lambda: s3.get_object(Bucket=bucket(ctx), Key=KEY), "KMS.DisabledException")
    finally:
        ctx.kms.enable_key(KeyId=arn)
    again = s3.get_object(Bucket=bucket(ctx), Key=KEY)["Body"].read()
    ctx.expect(again == NOTES, "enabled again, the object reads")
    return [("GetObject, data key disabled", show_refusal(refused)), ("after EnableKey", "the notes read again")]


STEPS: tuple[Step, ...] = (
    Step(
        "Upload an object to the data bucket with no encryption header",
        "Default bucket encryption makes it SSE-KMS under the data key with a Bucket Key; at rest it is ciphertext.",
        upload,
    ),
    Step(
        "Count S3's calls to KMS with and without a Bucket Key",
        "Without a Bucket Key S3 asks KMS for a data key per object; with one it reuses a bucket-level key.",
        bucket_keys,
    ),
    Step(
        "Try to upload under another key",
        "The bucket policy refuses SSE-S3 and SSE-KMS under any key but the data key.",
        wrong_key_refused,
    ),
    Step(
        "Try to make the object public",
        "Object ACLs are disabled on the kit's bucket, and an anonymous GET of an SSE-KMS object gets nothing.",
        public_acl_fails,
    ),
    Step(
        "Bob, without KMS permission, asks for the object",
        "Reading an SSE-KMS object needs kms:Decrypt on its key as well as s3:GetObject.",
        bob_denied,
    ),
    Step(
        "Share the object with a presigned URL",
        "A presigned URL carries Alice's permission (S3 and KMS) until it expires, then it is refused.",
        presigned,
    ),
    Step(
        "Disable the data key and read the object",
        "A disabled key makes every object under it unreadable (KMS.DisabledException) until it is enabled.",
        disabled_key,
    ),
)
