"""AWS Signature Version 2 for S3 query-string authentication (presigned URLs made with ``s3`` signing).

The AWS CLI's ``aws s3 presign`` and boto3's ``generate_presigned_url`` for S3 in ``us-east-1`` still
make Signature Version 2 URLs (``AWSAccessKeyId``, ``Expires``, ``Signature``). S3 accepts them,
except for objects encrypted with SSE-KMS, which need Signature Version 4: that refusal is one of
the workshop's object-sharing lessons, so the local S3 verifies both forms.

String to sign (S3 User Guide, "Signing and authenticating REST requests"): the method, Content-MD5,
Content-Type, Expires, the canonicalized ``x-amz-*`` headers and the canonicalized resource (the path
as sent, plus the sub-resources and response overrides of the query, sorted). The signature is the
base64 HMAC-SHA1 of it under the secret key, compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote

from kmslab.iam.errors import IamError

#: query names that are part of the canonicalized resource
SUBRESOURCES = frozenset(
    {
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy",
        "requestPayment", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions",
        "website", "response-cache-control", "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires",
    }
)  # fmt: skip


@dataclass(frozen=True)
class SignedV2:
    """A Signature Version 2 presigned request, before it is checked.

    Args:
        access_key_id: ``AWSAccessKeyId``.
        expires: ``Expires`` (epoch seconds).
        signature: ``Signature`` (base64).
        security_token: ``x-amz-security-token``, if any.
    """

    access_key_id: str
    expires: int
    signature: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


def _pairs(query: str) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for part in query.split("&") if query else []:
        if not part:
            continue
        name, eq, value = part.partition("=")
        out.append((unquote(name), unquote(value) if eq else None))
    return out


def parse_sigv2_query(query: str) -> SignedV2 | None:
    """Read a Signature Version 2 query-string signature.

    Args:
        query: the raw query string.

    Returns:
        The claimed signature, or None when the query carries none.

    Raises:
        IamError: it is incomplete.
    """
    fields = {k: v for k, v in _pairs(query) if v is not None}
    if "Signature" not in fields or "AWSAccessKeyId" not in fields:
        return None
    try:
        expires = int(fields.get("Expires", ""))
    except ValueError:
        raise IamError(
            "incomplete",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
            403,
        ) from None
    return SignedV2(fields["AWSAccessKeyId"], expires, fields["Signature"], fields.get("x-amz-security-token"))


def verify_sigv2(
    signed: SignedV2,
    *,
    secret: str,
    method: str,
    raw_path: str,
    query: str,
    headers: Mapping[str, str],
    now: datetime | None = None,
) -> None:
    """Check a Signature Version 2 presigned request.

    Args:
        signed: the claimed signature.
        secret: the signer's secret key.
        method: the HTTP method.
        raw_path: the path as sent (for a virtual-hosted request, ``/<bucket>`` + the path).
        query: the raw query string.
        headers: the request headers, lower-case names.
        now: the current time.

    Raises:
        IamError: expired, or the signature does not match.
    """
    now = now or datetime.now(UTC)
    if now.timestamp() > signed.expires:
        raise IamError("expired", "Request has expired")
    subs = sorted((k, v) for k, v in _pairs(query) if k in SUBRESOURCES)
    resource = raw_path
    if subs:
        resource += "?" + "&".join(k if v is None else f"{k}={v}" for k, v in subs)
    amz = sorted((k, " ".join(v.split())) for k, v in headers.items() if k.startswith("x-amz-"))
    if signed.security_token and not any(k == "x-amz-security-token" for k, _ in amz):
        amz = sorted([*amz, ("x-amz-security-token", signed.security_token)])
    lines = [method, headers.get("content-md5", ""), headers.get("content-type", ""), str(signed.expires)]
    to_sign = "\n".join(lines) + "\n" + "".join(f"{k}:{v}\n" for k, v in amz) + resource
    expected = base64.b64encode(hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
    if not hmac.compare_digest(expected.encode(), signed.signature.encode()):
        raise IamError(
            "bad-signature", "The request signature we calculated does not match the signature you provided."
        )
