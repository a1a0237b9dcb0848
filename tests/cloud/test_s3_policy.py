"""Bucket policies (same engine as key policies), Block Public Access, presigned URLs, versioning."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
from botocore.config import Config

from tests.cloud.conftest import Running


def _tls_only(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def _code(call: Callable[[], Any]) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        call()
    return str(exc.value.response["Error"]["Code"])


def _get(url: str, ca: str | bool) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=ca) if isinstance(ca, str) else None
    try:
        with urllib.request.urlopen(url, context=context, timeout=10) as answer:  # noqa: S310 - test endpoint
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.mark.parametrize("over_tls", [True, False])
def test_tls_only_bucket_policy_holds_over_https_and_denies_over_http(
    request: pytest.FixtureRequest, over_tls: bool, unique: Callable[[str], str]
) -> None:
    cloud: Running = request.getfixturevalue("cloud" if over_tls else "http_cloud")
    s3 = cloud.client("s3", "alice")
    name = unique("tls")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_policy(Bucket=name, Policy=_tls_only(name)) if over_tls else cloud.client(
        "s3", "admin"
    ).put_bucket_policy(Bucket=name, Policy=_tls_only(name))
    if over_tls:
        s3.put_object(Bucket=name, Key="k", Body=b"ok")
        assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"ok"
    else:
        assert _code(lambda: s3.put_object(Bucket=name, Key="k", Body=b"no")) == "AccessDenied"
        assert _code(lambda: s3.list_objects_v2(Bucket=name)) == "AccessDenied"


def test_policy_requiring_sse_kms_with_a_given_key(cloud: Running, unique: Callable[[str], str]) -> None:
    key = cloud.client("kms").create_key()["KeyMetadata"]["Arn"]
    name = unique("enc")
    s3 = cloud.client("s3", "alice")
    s3.create_bucket(Bucket=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyOtherEncryption",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{name}/*",
                "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    assert _code(lambda: s3.put_object(Bucket=name, Key="a", Body=b"x")) == "AccessDenied"
    assert (
        _code(lambda: s3.put_object(Bucket=name, Key="a", Body=b"x", ServerSideEncryption="aws:kms")) == "AccessDenied"
    )
    ok = s3.put_object(Bucket=name, Key="a", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    assert ok["SSEKMSKeyId"] == key


def test_block_public_access_refuses_a_public_policy_until_lifted(cloud: Running, unique: Callable[[str], str]) -> None:
    s3 = cloud.client("s3", "admin")
    name = unique("pub")
    s3.create_bucket(Bucket=name)
    public = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}
            ],
        }
    )
    assert s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert _code(lambda: s3.put_bucket_policy(Bucket=name, Policy=public)) == "AccessDenied"
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    s3.put_bucket_policy(Bucket=name, Policy=public)
    s3.put_object(Bucket=name, Key="open", Body=b"public text")
    key = cloud.client("kms").create_key()["KeyMetadata"]["Arn"]
    s3.put_object(Bucket=name, Key="sealed", Body=b"kms text", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    assert _get(f"{cloud.url}/{name}/open", cloud.ca) == (200, b"public text")
    status, body = _get(f"{cloud.url}/{name}/sealed", cloud.ca)
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body and b"Signature Version 4" in body


def test_anonymous_access_without_a_public_policy_is_denied(cloud: Running, unique: Callable[[str], str]) -> None:
    s3 = cloud.client("s3", "alice")
    name = unique("priv")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    status, body = _get(f"{cloud.url}/{name}/k", cloud.ca)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body


def test_acls_are_refused_under_bucket_owner_enforced(cloud: Running, unique: Callable[[str], str]) -> None:
    s3 = cloud.client("s3", "alice")
    name = unique("acl")
    s3.create_bucket(Bucket=name)
    assert (
        _code(lambda: s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="public-read"))
        == "AccessControlListNotSupported"
    )
    assert (
        s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
        == "BucketOwnerEnforced"
    )
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    assert _code(lambda: s3.put_object_acl(Bucket=name, Key="k", ACL="public-read")) == "AccessControlListNotSupported"
    s3.put_object_acl(Bucket=name, Key="k", ACL="bucket-owner-full-control")  # the one ACL still accepted
    grants = s3.get_object_acl(Bucket=name, Key="k")["Grants"]  # reading ACLs still works
    assert [(g["Grantee"]["Type"], g["Permission"]) for g in grants] == [("CanonicalUser", "FULL_CONTROL")]
    owner = s3.get_bucket_acl(Bucket=name)["Owner"]["ID"]
    assert grants[0]["Grantee"]["ID"] == owner
    assert _code(lambda: s3.get_object_acl(Bucket=name, Key="missing")) == "NoSuchKey"
    auditor = cloud.client("s3", "auditor")  # s3:Get* and s3:List* only
    assert auditor.get_object_acl(Bucket=name, Key="k")["Grants"] == grants
    assert (
        _code(lambda: auditor.put_object_acl(Bucket=name, Key="k", ACL="bucket-owner-full-control")) == "AccessDenied"
    )


def test_presigned_urls_sign_with_sigv4_and_expire(cloud: Running, unique: Callable[[str], str]) -> None:
    s3 = cloud.client("s3", "alice", config=Config(signature_version="s3v4", retries={"max_attempts": 1}))
    name = unique("pre")
    s3.create_bucket(Bucket=name)
    key = cloud.client("kms").create_key()["KeyMetadata"]["Arn"]
    s3.put_object(Bucket=name, Key="doc.txt", Body=b"shared", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "doc.txt"}, ExpiresIn=60)
    assert "X-Amz-Signature=" in url
    assert _get(url, cloud.ca) == (200, b"shared")
    tampered = url.replace("doc.txt", "other.txt")
    status, body = _get(tampered, cloud.ca)
    assert status == 403 and b"SignatureDoesNotMatch" in body
    bob = cloud.client("s3", "bob", config=Config(signature_version="s3v4"))
    status, body = _get(bob.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "doc.txt"}), cloud.ca)
    assert status == 403 and b"kms:Decrypt" in body


def test_versioning_keeps_old_versions_and_delete_markers(cloud: Running, unique: Callable[[str], str]) -> None:
    s3 = cloud.client("s3", "alice")
    name = unique("ver")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=name, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=name, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2
    deleted = s3.delete_object(Bucket=name, Key="k")
    assert deleted["DeleteMarker"] is True
    assert _code(lambda: s3.get_object(Bucket=name, Key="k")) == "NoSuchKey"
    assert s3.get_object(Bucket=name, Key="k", VersionId=v1)["Body"].read() == b"one"
    versions = s3.list_object_versions(Bucket=name)
    assert [v["VersionId"] for v in versions["Versions"]] == [v2, v1] and len(versions["DeleteMarkers"]) == 1
    s3.delete_object(Bucket=name, Key="k", VersionId=deleted["VersionId"])
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"two"


def test_virtual_hosted_addressing_routes_to_the_bucket(cloud: Running, unique: Callable[[str], str]) -> None:
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    s3 = cloud.client("s3", "alice")
    name = unique("vh")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="dir/file.txt", Body=b"virtual")
    host = f"{name}.s3.localhost:{cloud.cloud.server.port}"
    request = botocore.awsrequest.AWSRequest(
        method="GET",
        url=f"https://{host}/dir/file.txt",
        headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD", "Host": host},
    )
    alice = cloud.creds("alice")
    botocore.auth.S3SigV4Auth(
        botocore.credentials.Credentials(alice["aws_access_key_id"], alice["aws_secret_access_key"]), "s3", "us-east-1"
    ).add_auth(request)
    import http.client

    conn = http.client.HTTPSConnection(
        "127.0.0.1", cloud.cloud.server.port, context=ssl.create_default_context(cafile=str(cloud.ca)), timeout=10
    )
    conn._context.check_hostname = False  # type: ignore[attr-defined]  # connect by IP, send the virtual host
    conn.request("GET", "/dir/file.txt", headers=dict(request.headers.items()))
    answer = conn.getresponse()
    assert (answer.status, answer.read()) == (200, b"virtual")


def test_signature_v2_presigned_urls_work_except_for_sse_kms_objects(
    cloud: Running, unique: Callable[[str], str]
) -> None:
    s3 = cloud.client("s3", "alice")
    v2 = cloud.client("s3", "alice", config=Config(signature_version="s3"))  # only signs URLs, never sends
    name = unique("v2")
    s3.create_bucket(Bucket=name)
    key = cloud.client("kms").create_key()["KeyMetadata"]["Arn"]
    s3.put_object(Bucket=name, Key="plain.txt", Body=b"sse-s3 text")
    s3.put_object(Bucket=name, Key="sealed.txt", Body=b"kms text", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    plain = v2.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "plain.txt"}, ExpiresIn=60)
    assert "AWSAccessKeyId=" in plain and "X-Amz-Signature" not in plain
    assert _get(plain, cloud.ca) == (200, b"sse-s3 text")
    status, body = _get(plain.replace("plain.txt", "sealed.txt"), cloud.ca)
    assert status == 403 and b"SignatureDoesNotMatch" in body
    sealed = v2.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "sealed.txt"}, ExpiresIn=60)
    status, body = _get(sealed, cloud.ca)
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body and b"Signature Version 4" in body
    expired = v2.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "plain.txt"}, ExpiresIn=-10)
    status, body = _get(expired, cloud.ca)
    assert status == 403 and b"Request has expired" in body


def test_a_service_principal_writes_only_where_the_bucket_policy_lets_it(
    cloud: Running, unique: Callable[[str], str]
) -> None:
    from kmslab.cloud.errors import CloudError
    from kmslab.kms import Caller

    s3 = cloud.client("s3", "admin")
    name = unique("trail")
    s3.create_bucket(Bucket=name)
    trail = "arn:aws:cloudtrail:us-east-1:111122223333:trail/kit"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSCloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{name}/AWSLogs/111122223333/*",
                "Condition": {"StringEquals": {"aws:SourceArn": trail}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    service = cloud.cloud.gateway.services["s3"]
    cloudtrail = Caller(
        arn="cloudtrail.amazonaws.com", account="", identity_type="AWSService", principal_id="cloudtrail.amazonaws.com"
    )
    written = service.put_bytes(
        cloudtrail, "us-east-1", name, "AWSLogs/111122223333/log.json.gz", b"{}", context={"aws:SourceArn": trail}
    )
    assert written["enc"]["algorithm"] == "AES256"
    with pytest.raises(CloudError) as denied:
        service.put_bytes(
            cloudtrail, "us-east-1", name, "AWSLogs/111122223333/x", b"{}", context={"aws:SourceArn": trail + "-other"}
        )
    assert denied.value.code == "AccessDenied"
    assert s3.get_object(Bucket=name, Key="AWSLogs/111122223333/log.json.gz")["Body"].read() == b"{}"


def test_public_read_acl_serves_anonymous_gets_except_sse_kms_objects(
    cloud: Running, unique: Callable[[str], str]
) -> None:
    s3 = cloud.client("s3", "admin")
    name = unique("acl-pub")
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    key = cloud.client("kms").create_key()["KeyMetadata"]["Arn"]
    s3.put_object(Bucket=name, Key="open.txt", Body=b"acl text", ACL="public-read")
    s3.put_object(
        Bucket=name,
        Key="sealed.txt",
        Body=b"kms text",
        ACL="public-read",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key,
    )
    assert _get(f"{cloud.url}/{name}/open.txt", cloud.ca) == (200, b"acl text")
    grants = s3.get_object_acl(Bucket=name, Key="open.txt")["Grants"]
    assert ("http://acs.amazonaws.com/groups/global/AllUsers", "READ") in [
        (g["Grantee"].get("URI"), g["Permission"]) for g in grants
    ]
    s3.put_object_acl(Bucket=name, Key="open.txt", ACL="private")  # taking the grant back closes the object
    assert _get(f"{cloud.url}/{name}/open.txt", cloud.ca)[0] == 403
    s3.put_object_acl(Bucket=name, Key="open.txt", ACL="public-read")
    assert _get(f"{cloud.url}/{name}/open.txt", cloud.ca) == (200, b"acl text")
    status, body = _get(f"{cloud.url}/{name}/sealed.txt", cloud.ca)
    assert status == 400 and b"Signature Version 4" in body
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    assert _get(f"{cloud.url}/{name}/open.txt", cloud.ca)[0] == 403


def test_sse_kms_headers_over_plain_http_are_refused(http_cloud: Running, unique: Callable[[str], str]) -> None:
    s3 = http_cloud.client("s3", "alice")
    name = unique("http")
    s3.create_bucket(Bucket=name)
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        s3.put_object(Bucket=name, Key="k", Body=b"x", ServerSideEncryption="aws:kms")
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"
    assert "secure connection" in exc.value.response["Error"]["Message"]
    assert s3.put_object(Bucket=name, Key="k", Body=b"x")["ServerSideEncryption"] == "AES256"


def test_an_acl_set_on_an_object_already_replaced_leaves_the_new_object_whole(tmp_path: Path) -> None:
    from kmslab.cloud.s3.store import S3Store

    store = S3Store(tmp_path)
    try:
        old = {"version_id": "null", "uid": "old-uid", "acl": "private", "parts": [{"blob": "old.1", "size": 1}]}
        store.put_version("b", "k", old)
        # a PutObject replaces the object (same "null" version) after PutObjectAcl read the old one
        new = {**old, "uid": "new-uid", "parts": [{"blob": "new.1", "size": 2}]}
        store.put_version("b", "k", new)
        assert store.set_acl("b", "k", "null", "old-uid", "public-read") is False
        assert store.latest("b", "k") == new  # untouched: not the old document with an ACL
        assert store.set_acl("b", "k", "null", "new-uid", "public-read") is True
        assert store.latest("b", "k") == {**new, "acl": "public-read"}
    finally:
        store.close()
