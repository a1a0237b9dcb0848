"""S3 request routing: which bucket, which key, which operation (path-style and virtual-hosted)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from kmslab.cloud.errors import CloudError
from kmslab.cloud.s3.bucket_config import ROUTES as CONFIG_ROUTES
from kmslab.cloud.s3.errors import not_implemented

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
#: host suffixes whose first label is a bucket name (virtual-hosted style)
_VHOST_SUFFIXES = (".s3.localhost", ".localhost", ".s3.amazonaws.com")

#: (method, scope, subresource) -> operation; scope is "service", "bucket" or "object"
_ROUTES: dict[tuple[str, str, str], str] = {
    ("GET", "service", ""): "ListBuckets",
    ("PUT", "bucket", ""): "CreateBucket",
    ("DELETE", "bucket", ""): "DeleteBucket",
    ("HEAD", "bucket", ""): "HeadBucket",
    ("GET", "bucket", ""): "ListObjects",
    ("GET", "bucket", "location"): "GetBucketLocation",
    ("PUT", "bucket", "encryption"): "PutBucketEncryption",
    ("GET", "bucket", "encryption"): "GetBucketEncryption",
    ("DELETE", "bucket", "encryption"): "DeleteBucketEncryption",
    ("PUT", "bucket", "policy"): "PutBucketPolicy",
    ("GET", "bucket", "policy"): "GetBucketPolicy",
    ("DELETE", "bucket", "policy"): "DeleteBucketPolicy",
    ("PUT", "bucket", "publicAccessBlock"): "PutPublicAccessBlock",
    ("GET", "bucket", "publicAccessBlock"): "GetPublicAccessBlock",
    ("DELETE", "bucket", "publicAccessBlock"): "DeletePublicAccessBlock",
    ("PUT", "bucket", "ownershipControls"): "PutBucketOwnershipControls",
    ("GET", "bucket", "ownershipControls"): "GetBucketOwnershipControls",
    ("DELETE", "bucket", "ownershipControls"): "DeleteBucketOwnershipControls",
    ("PUT", "bucket", "versioning"): "PutBucketVersioning",
    ("GET", "bucket", "versioning"): "GetBucketVersioning",
    ("GET", "bucket", "versions"): "ListObjectVersions",
    ("GET", "bucket", "uploads"): "ListMultipartUploads",
    ("POST", "bucket", "delete"): "DeleteObjects",
    ("GET", "bucket", "acl"): "GetBucketAcl",
    ("PUT", "bucket", "acl"): "PutBucketAcl",
    ("PUT", "object", ""): "PutObject",
    ("GET", "object", ""): "GetObject",
    ("HEAD", "object", ""): "HeadObject",
    ("DELETE", "object", ""): "DeleteObject",
    ("POST", "object", "uploads"): "CreateMultipartUpload",
    ("PUT", "object", "uploadId"): "UploadPart",
    ("POST", "object", "uploadId"): "CompleteMultipartUpload",
    ("DELETE", "object", "uploadId"): "AbortMultipartUpload",
    ("GET", "object", "uploadId"): "ListParts",
    ("GET", "object", "acl"): "GetObjectAcl",
    ("PUT", "object", "acl"): "PutObjectAcl",
}
_ROUTES.update(CONFIG_ROUTES)
#: query names that select a subresource (others are ordinary parameters)
_SUBRESOURCES = {sub for (_, _, sub) in _ROUTES if sub} | {
    "tagging",
    "cors",
    "lifecycle",
    "logging",
    "notification",
    "object-lock",
    "website",
    "replication",
    "accelerate",
    "requestPayment",
    "analytics",
    "metrics",
    "inventory",
    "intelligent-tiering",
    "retention",
    "legal-hold",
    "torrent",
    "restore",
    "select",
    "attributes",
    "policyStatus",
}


@dataclass(frozen=True)
class S3Route:
    """Where an S3 request goes.

    Args:
        operation: the S3 API operation.
        bucket: the bucket name, or "" for service-level requests.
        key: the object key (decoded), or "".
        params: the query parameters.
    """

    operation: str
    bucket: str
    key: str
    params: dict[str, str]


def vhost_bucket(host: str) -> str | None:
    """The bucket a virtual-hosted request names in its Host header.

    Args:
        host: the Host header.

    Returns:
        The bucket, or None for path-style requests.
    """
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    for suffix in _VHOST_SUFFIXES:
        if name.endswith(suffix) and name != suffix[1:]:
            label = name[: -len(suffix)]
            if label and label != "s3":
                return label
    return None


def route(method: str, raw_path: str, query: str, host: str) -> S3Route:
    """Route an S3 request.

    Args:
        method: the HTTP method.
        raw_path: the path as sent.
        query: the raw query string.
        host: the Host header.

    Returns:
        The route.

    Raises:
        CloudError: NotImplemented for an operation the local S3 does not emulate.
    """
    params = dict(parse_qsl(query, keep_blank_values=True))
    path = unquote(raw_path)
    bucket = vhost_bucket(host)
    if bucket is None:
        stripped = path[1:] if path.startswith("/") else path
        bucket, _, key = stripped.partition("/")
    else:
        key = path[1:] if path.startswith("/") else path
    scope = "object" if key else "bucket" if bucket else "service"
    subs = [name for name in params if name in _SUBRESOURCES]
    sub = ""
    if subs:
        sub = "uploadId" if "uploadId" in subs else subs[0]
    if scope == "bucket" and method == "GET" and not sub and params.get("list-type") == "2":
        return S3Route("ListObjectsV2", bucket, key, params)
    operation = _ROUTES.get((method, scope, sub))
    if operation is None and not sub:
        raise CloudError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
    if operation is None:
        what = (
            f"{method} on {'the ' + sub + ' subresource of ' if sub else ''}"
            f"{'an object' if scope == 'object' else 'a bucket' if scope == 'bucket' else 'the service'}"
        )
        raise not_implemented(what)
    return S3Route(operation, bucket, key, params)


def valid_bucket_name(name: str) -> bool:
    """Tell whether a bucket name follows S3's general-purpose naming rules.

    Args:
        name: the name.

    Returns:
        True when valid (3-63 lower-case letters, digits, dots, hyphens; not an IP address; no ``..``).
    """
    if not _BUCKET_RE.match(name) or ".." in name or ".-" in name or "-." in name:
        return False
    return not re.match(r"^\d+\.\d+\.\d+\.\d+$", name)
