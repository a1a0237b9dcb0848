"""Bucket-level S3 operations on the wire: one small handler per operation."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kmslab.cloud.errors import CloudError, xml_text
from kmslab.cloud.gateway.request import Call, Incoming, Outgoing
from kmslab.cloud.s3._wire import MAX_CONFIG_BYTES, NS, ok, text, xml
from kmslab.cloud.s3.acl import access_control_policy
from kmslab.cloud.s3.bucket_config import HANDLERS as CONFIG_HANDLERS
from kmslab.cloud.s3.bucket_config import clear
from kmslab.cloud.s3.errors import malformed_xml, not_implemented
from kmslab.cloud.s3.listing import iso
from kmslab.cloud.s3.policy import PAB_FIELDS, pab_settings

if TYPE_CHECKING:
    from kmslab.cloud.s3.responses import S3Service


@dataclass(frozen=True)
class BucketRequest:
    """One bucket-level request and its context.

    Args:
        service: the S3 service.
        request: the request.
        call: who sends it.
        bucket: the bucket.
        doc: the bucket's document (None before it exists).
    """

    service: S3Service
    request: Incoming
    call: Call
    bucket: str
    doc: dict[str, Any] | None

    def allowed(self, action: str) -> dict[str, Any]:
        """Authorize ``action`` on the existing bucket for the caller; return its document.

        Args:
            action: the IAM action S3 checks.

        Returns:
            The bucket's document.

        Raises:
            CloudError: AccessDenied.
        """
        doc = self.doc or {}
        self.service.buckets.check(self.call.caller, action, self.bucket, doc, self.call.region)
        return doc

    def update(self, action: str, changes: dict[str, Any]) -> None:
        """Authorize ``action`` and apply ``changes`` to the bucket's document.

        Args:
            action: the IAM action S3 checks.
            changes: the document's fields to set.

        Raises:
            CloudError: AccessDenied, NoSuchBucket.
        """
        self.service.buckets.update(self.call.caller, self.bucket, self.call.region, action, changes)

    def body_xml(self) -> ET.Element:
        """Parse the request's XML configuration body (at most :data:`MAX_CONFIG_BYTES`).

        Returns:
            The root element, namespaces dropped from tags.

        Raises:
            CloudError: MalformedXML, or a body too large.
        """
        return xml(self.request.body(MAX_CONFIG_BYTES))


def _list_buckets(r: BucketRequest) -> Outgoing:
    """Answer ListBuckets."""
    caller = r.call.caller
    region = r.call.region
    b = r.service.buckets
    if caller.arn == "anonymous":
        raise CloudError("AccessDenied", "Access Denied", 403)
    b.check(caller, "s3:ListAllMyBuckets", "", None, region)
    items = "".join(
        f"<Bucket><Name>{xml_text(n)}</Name><CreationDate>{iso(d['created'])}</CreationDate><BucketRegion>{d['region']}</BucketRegion></Bucket>"
        for n, d in r.service.store.buckets()
    )
    return ok(
        f'<ListAllMyBucketsResult xmlns="{NS}"><Owner><ID>{caller.account}</ID></Owner><Buckets>'
        f"{items}</Buckets></ListAllMyBucketsResult>"
    )


def _create_bucket(r: BucketRequest) -> Outgoing:
    """Answer CreateBucket."""
    caller = r.call.caller
    region = r.call.region
    h = r.request.headers
    b = r.service.buckets
    request = r.request
    bucket = r.bucket
    body = request.body(MAX_CONFIG_BYTES)
    location = text(xml(body), "LocationConstraint") if body.strip() else None
    b.create(
        caller,
        bucket,
        region,
        location=location,
        acl=h.get("x-amz-acl"),
        ownership=h.get("x-amz-object-ownership"),
    )
    return ok(headers=[("Location", f"/{bucket}")])


def _delete_bucket(r: BucketRequest) -> Outgoing:
    """Answer DeleteBucket."""
    r.service.buckets.delete(r.call.caller, r.bucket, r.call.region)
    return ok(status=204)


def _head_bucket(r: BucketRequest) -> Outgoing:
    """Answer HeadBucket."""
    doc = r.allowed("s3:ListBucket")
    return ok(headers=[("x-amz-bucket-region", doc["region"])])


def _get_bucket_location(r: BucketRequest) -> Outgoing:
    """Answer GetBucketLocation."""
    doc = r.allowed("s3:GetBucketLocation")
    loc = "" if doc["region"] == "us-east-1" else doc["region"]
    return ok(f'<LocationConstraint xmlns="{NS}">{loc}</LocationConstraint>')


def _put_bucket_encryption(r: BucketRequest) -> Outgoing:
    """Answer PutBucketEncryption."""
    root = r.body_xml()
    algorithm = text(root, "Rule/ApplyServerSideEncryptionByDefault/SSEAlgorithm")
    if algorithm not in ("AES256", "aws:kms"):
        raise malformed_xml() if algorithm is None else not_implemented(f"default encryption {algorithm[:30]}")
    key_id = text(root, "Rule/ApplyServerSideEncryptionByDefault/KMSMasterKeyID")
    if key_id and algorithm != "aws:kms":
        raise CloudError(
            "InvalidArgument",
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
            400,
        )
    bucket_key = (text(root, "Rule/BucketKeyEnabled") or "false").lower() == "true"
    r.update(
        "s3:PutEncryptionConfiguration",
        {"encryption": {"algorithm": algorithm, "key_id": key_id, "bucket_key": bucket_key}},
    )
    return ok()


def _get_bucket_encryption(r: BucketRequest) -> Outgoing:
    """Answer GetBucketEncryption."""
    doc = r.allowed("s3:GetEncryptionConfiguration")
    enc = doc.get("encryption") or {"algorithm": "AES256", "key_id": None, "bucket_key": False}
    kid = f"<KMSMasterKeyID>{xml_text(enc['key_id'])}</KMSMasterKeyID>" if enc.get("key_id") else ""
    return ok(
        f'<ServerSideEncryptionConfiguration xmlns="{NS}"><Rule><ApplyServerSideEncryptionByDefault>'
        f"<SSEAlgorithm>{enc['algorithm']}</SSEAlgorithm>{kid}</ApplyServerSideEncryptionByDefault>"
        f"<BucketKeyEnabled>{str(enc.get('bucket_key', False)).lower()}</BucketKeyEnabled></Rule>"
        "</ServerSideEncryptionConfiguration>"
    )


def _put_bucket_policy(r: BucketRequest) -> Outgoing:
    """Answer PutBucketPolicy."""
    policy = r.request.body(MAX_CONFIG_BYTES).decode("utf-8", "replace")
    r.service.buckets.put_policy(r.call.caller, r.bucket, r.call.region, policy)
    return ok(status=204)


def _get_bucket_policy(r: BucketRequest) -> Outgoing:
    """Answer GetBucketPolicy."""
    doc = r.allowed("s3:GetBucketPolicy")
    if not doc.get("policy"):
        raise CloudError("NoSuchBucketPolicy", "The bucket policy does not exist", 404, {"BucketName": r.bucket})
    raw = doc["policy"].encode()
    return Outgoing(200, [("Content-Type", "application/json"), ("Content-Length", str(len(raw)))], raw)


def _put_public_access_block(r: BucketRequest) -> Outgoing:
    """Answer PutPublicAccessBlock."""
    root = r.body_xml()
    settings = {f: (text(root, f) or "false").lower() == "true" for f in PAB_FIELDS}
    r.service.buckets.put_pab(r.call.caller, r.bucket, r.call.region, settings)
    return ok()


def _get_public_access_block(r: BucketRequest) -> Outgoing:
    """Answer GetPublicAccessBlock."""
    doc = r.allowed("s3:GetBucketPublicAccessBlock")
    if doc.get("pab_deleted"):
        raise CloudError(
            "NoSuchPublicAccessBlockConfiguration",
            "The public access block configuration was not found",
            404,
            {"BucketName": r.bucket},
        )
    settings = pab_settings(doc)
    inner = "".join(f"<{f}>{str(settings[f]).lower()}</{f}>" for f in PAB_FIELDS)
    return ok(f'<PublicAccessBlockConfiguration xmlns="{NS}">{inner}</PublicAccessBlockConfiguration>')


def _put_bucket_ownership_controls(r: BucketRequest) -> Outgoing:
    """Answer PutBucketOwnershipControls."""
    rule = text(r.body_xml(), "Rule/ObjectOwnership")
    r.service.buckets.put_ownership(r.call.caller, r.bucket, r.call.region, rule or "")
    return ok()


def _get_bucket_ownership_controls(r: BucketRequest) -> Outgoing:
    """Answer GetBucketOwnershipControls."""
    doc = r.allowed("s3:GetBucketOwnershipControls")
    return ok(
        f'<OwnershipControls xmlns="{NS}"><Rule><ObjectOwnership>'
        f"{doc.get('ownership', 'BucketOwnerEnforced')}</ObjectOwnership></Rule></OwnershipControls>"
    )


def _put_bucket_versioning(r: BucketRequest) -> Outgoing:
    """Answer PutBucketVersioning."""
    status = text(r.body_xml(), "Status")
    if status not in ("Enabled", "Suspended"):
        raise malformed_xml()
    r.update("s3:PutBucketVersioning", {"versioning": status})
    return ok()


def _get_bucket_versioning(r: BucketRequest) -> Outgoing:
    """Answer GetBucketVersioning."""
    doc = r.allowed("s3:GetBucketVersioning")
    status = f"<Status>{doc['versioning']}</Status>" if doc.get("versioning") else ""
    return ok(f'<VersioningConfiguration xmlns="{NS}">{status}</VersioningConfiguration>')


def _delete_objects(r: BucketRequest) -> Outgoing:
    """Answer DeleteObjects."""
    return r.service.delete_objects(r.request, r.call, r.bucket)


def _list_multipart_uploads(r: BucketRequest) -> Outgoing:
    """Answer ListMultipartUploads."""
    r.allowed("s3:ListBucketMultipartUploads")
    items = "".join(
        f"<Upload><Key>{xml_text(k)}</Key><UploadId>{u}</UploadId><Initiated>{iso(d['initiated'])}</Initiated></Upload>"
        for u, k, d in r.service.store.uploads(r.bucket)
    )
    return ok(
        f'<ListMultipartUploadsResult xmlns="{NS}"><Bucket>{xml_text(r.bucket)}</Bucket><IsTruncated>'
        f"false</IsTruncated>{items}</ListMultipartUploadsResult>"
    )


def _get_bucket_acl(r: BucketRequest) -> Outgoing:
    """Answer GetBucketAcl."""
    doc = r.allowed("s3:GetBucketAcl")
    return ok(access_control_policy(str(doc["owner"]), str(doc.get("acl", "private"))))


def _put_bucket_acl(r: BucketRequest) -> Outgoing:
    """Answer PutBucketAcl."""
    acl = r.request.headers.get("x-amz-acl")
    if acl is None:
        raise not_implemented("PutBucketAcl with grant headers or an XML body (use a canned ACL)")
    r.service.buckets.put_acl(r.call.caller, r.bucket, r.call.region, acl)
    return ok()


#: operation -> handler; the first three need no existing bucket
HANDLERS: dict[str, Callable[[BucketRequest], Outgoing]] = {
    "ListBuckets": _list_buckets,
    "CreateBucket": _create_bucket,
    "DeleteBucket": _delete_bucket,
    "HeadBucket": _head_bucket,
    "GetBucketLocation": _get_bucket_location,
    "PutBucketEncryption": _put_bucket_encryption,
    "GetBucketEncryption": _get_bucket_encryption,
    "DeleteBucketEncryption": clear("s3:PutEncryptionConfiguration", {"encryption": None}),
    "PutBucketPolicy": _put_bucket_policy,
    "GetBucketPolicy": _get_bucket_policy,
    "DeleteBucketPolicy": clear("s3:DeleteBucketPolicy", {"policy": None}),
    "PutPublicAccessBlock": _put_public_access_block,
    "GetPublicAccessBlock": _get_public_access_block,
    "DeletePublicAccessBlock": clear("s3:PutBucketPublicAccessBlock", {"pab": None, "pab_deleted": True}),
    "PutBucketOwnershipControls": _put_bucket_ownership_controls,
    "GetBucketOwnershipControls": _get_bucket_ownership_controls,
    "DeleteBucketOwnershipControls": clear("s3:PutBucketOwnershipControls", {"ownership": "ObjectWriter"}),
    "PutBucketVersioning": _put_bucket_versioning,
    "GetBucketVersioning": _get_bucket_versioning,
    "DeleteObjects": _delete_objects,
    "ListMultipartUploads": _list_multipart_uploads,
    "GetBucketAcl": _get_bucket_acl,
    "PutBucketAcl": _put_bucket_acl,
}
HANDLERS.update(CONFIG_HANDLERS)
NO_BUCKET = frozenset({"ListBuckets", "CreateBucket", "DeleteBucket"})
