"""What a write's headers ask for: its encryption (with the bucket default), condition keys and metadata."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kmslab.cloud.s3.errors import SIGV4_REQUIRED, invalid_argument, not_implemented
from kmslab.iam.evaluate import ANONYMOUS_ARN
from kmslab.kms import Caller

SECURE_REQUIRED = (
    "Requests specifying Server Side Encryption with AWS KMS managed keys must be made over a secure connection."
)


@dataclass(frozen=True)
class Encryption:
    """How a new object is to be encrypted.

    Args:
        algorithm: ``AES256`` or ``aws:kms``.
        key_id: the KMS key named (None: the bucket default's, else ``aws/s3``).
        bucket_key: use an S3 Bucket Key.
    """

    algorithm: str
    key_id: str | None = None
    bucket_key: bool = False


def choose_encryption(
    headers: Mapping[str, str], bucket: Mapping[str, Any], caller: Caller, secure: bool, sigv4: bool = True
) -> Encryption:
    """Decide a new object's encryption from the request headers and the bucket's default.

    Args:
        headers: the request headers.
        bucket: the bucket's document.
        caller: who asks.
        secure: whether the request came over TLS.
        sigv4: whether the request was signed with Signature Version 4.

    Returns:
        The encryption.

    Raises:
        CloudError: an invalid combination, SSE-KMS asked anonymously or over plain HTTP.
    """
    sse = headers.get("x-amz-server-side-encryption")
    key_id = headers.get("x-amz-server-side-encryption-aws-kms-key-id")
    bk_header = headers.get("x-amz-server-side-encryption-bucket-key-enabled")
    default = bucket.get("encryption") or {}
    if headers.get("x-amz-server-side-encryption-customer-algorithm"):
        raise not_implemented("SSE-C (customer-provided keys)")
    if sse is None:
        if key_id:
            raise invalid_argument(
                "Server Side Encryption with AWS KMS managed key requires HTTP header "
                "x-amz-server-side-encryption : aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id",
                key_id,
            )
        if default.get("algorithm") == "aws:kms":
            bucket_key = default.get("bucket_key", False) if bk_header is None else bk_header.lower() == "true"
            return Encryption("aws:kms", default.get("key_id"), bucket_key)
        return Encryption("AES256")
    if sse == "AES256":
        if key_id:
            raise invalid_argument(
                "Server Side Encryption with AWS KMS managed key requires HTTP header "
                "x-amz-server-side-encryption : aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id",
                key_id,
            )
        return Encryption("AES256")
    if sse == "aws:kms:dsse":
        raise not_implemented("DSSE-KMS (aws:kms:dsse)")
    if sse != "aws:kms":
        raise invalid_argument(
            "The encryption method specified is not supported", "x-amz-server-side-encryption", sse[:40]
        )
    if caller.arn == ANONYMOUS_ARN or not sigv4:
        raise invalid_argument(SIGV4_REQUIRED)
    if not secure:
        raise invalid_argument(SECURE_REQUIRED)
    if bk_header is not None:
        bucket_key = bk_header.lower() == "true"
    else:
        bucket_key = bool(default.get("bucket_key")) and default.get("algorithm") == "aws:kms"
    return Encryption("aws:kms", key_id or None, bucket_key)


def sse_context(headers: Mapping[str, str]) -> dict[str, Any]:
    """S3's condition keys of a write request, from its headers as sent.

    Args:
        headers: the request headers.

    Returns:
        The condition keys present in the request.
    """
    ctx: dict[str, Any] = {}
    for header in ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-acl"):
        if header in headers:
            ctx[f"s3:{header}"] = headers[header]
    return ctx


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """The ``x-amz-meta-*`` headers and the stored standard headers of a write.

    Args:
        headers: the request headers.

    Returns:
        Header name -> value, to return on GET/HEAD.
    """
    keep = ("content-type", "cache-control", "content-disposition", "content-language", "expires")
    out = {k: v for k, v in headers.items() if k.startswith("x-amz-meta-") or k in keep}
    enc = headers.get("content-encoding", "")
    parts = [p.strip() for p in enc.split(",") if p.strip() and p.strip() != "aws-chunked"]
    if parts:
        out["content-encoding"] = ",".join(parts)
    out.setdefault("content-type", "binary/octet-stream")
    return out
