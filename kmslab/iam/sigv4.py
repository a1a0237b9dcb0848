"""AWS Signature Version 4 for every local service: the header form and the presigned query form.

The canonical request is built as botocore's signers build it: S3 signs the path exactly as sent
(``S3SigV4Auth`` does not normalize it), every other service signs the path percent-encoded once
more; the query is sorted by its encoded names and values (without ``X-Amz-Signature`` in the
presigned form); signed header values have runs of blanks collapsed; the payload hash is the
``x-amz-content-sha256`` header when sent (S3: a hex digest, ``UNSIGNED-PAYLOAD`` or a
``STREAMING-*`` marker), ``UNSIGNED-PAYLOAD`` for an S3 presigned URL, else the SHA-256 of the body.
Signatures are compared in constant time. AWS allows 15 minutes of clock skew, and a presigned
URL lives at most 7 days (``X-Amz-Expires`` <= 604800).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from kmslab.iam.errors import IamError
from kmslab.kms.authz.sigv4 import signature as _signature

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_PARAM_RE = re.compile(r"(\w+)=([^,\s]*)")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

MSG_BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your key and signing method."
)


@dataclass(frozen=True)
class SignedRequest:
    """What a request's SigV4 signature claims, before it is checked.

    Args:
        access_key_id: the access key that signed.
        date: the credential scope's date (``YYYYMMDD``).
        region: the credential scope's region.
        service: the credential scope's service (the gateway routes on it).
        amz_date: ``X-Amz-Date`` (``YYYYMMDDTHHMMSSZ``).
        signed_headers: the signed header names, lower-case, as listed.
        signature: the hex signature.
        security_token: ``X-Amz-Security-Token`` (temporary credentials), if any.
        presigned: whether the signature came in the query string.
        expires: ``X-Amz-Expires`` of a presigned URL, in seconds.
        payload_hash: the declared payload hash, or None to hash the body.
    """

    access_key_id: str
    date: str
    region: str
    service: str
    amz_date: str
    signed_headers: tuple[str, ...]
    signature: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    presigned: bool = False
    expires: int | None = None
    payload_hash: str | None = None

    @property
    def scope(self) -> str:
        """The credential scope, ``date/region/service/aws4_request``."""
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query.split("&") if query else []:
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote(key.replace("+", "%20")), unquote(value.replace("+", "%20"))))
    return pairs


def _scope(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise IamError(
            "incomplete",
            f"Credential should be scoped to a valid region, not '{parts[2] if len(parts) > 2 else ''}'.",
            400,
        )
    return parts[0], parts[1], parts[2], parts[3]


def parse_signature(headers: Mapping[str, str], query: str) -> SignedRequest | None:
    """Read the SigV4 signature of a request, header or presigned form.

    Args:
        headers: the request headers, lower-case names.
        query: the raw query string.

    Returns:
        The claimed signature, or None for an anonymous request (no signature at all).

    Raises:
        IamError: the signature is malformed (``incomplete``) or uses another algorithm.
    """
    auth = headers.get("authorization", "").strip()
    if auth:
        algorithm, _, rest = auth.partition(" ")
        if algorithm != ALGORITHM:
            raise IamError("incomplete", f"Unsupported Authorization Type: '{algorithm[:40]}'.", 400)
        params = dict(_PARAM_RE.findall(rest))
        missing = [p for p in ("Credential", "SignedHeaders", "Signature") if not params.get(p)]
        if missing:
            raise IamError(
                "incomplete", " ".join(f"Authorization header requires '{p}' parameter." for p in missing), 400
            )
        key, date, region, service = _scope(params["Credential"])
        amz_date = headers.get("x-amz-date", "")
        payload = headers.get("x-amz-content-sha256") or None
        return SignedRequest(
            access_key_id=key,
            date=date,
            region=region,
            service=service,
            amz_date=amz_date,
            signed_headers=tuple(params["SignedHeaders"].split(";")),
            signature=params["Signature"],
            security_token=headers.get("x-amz-security-token") or None,
            payload_hash=payload,
        )
    if "X-Amz-Signature=" not in query and "X-Amz-Credential=" not in query:
        return None
    fields = dict(_query_pairs(query))
    missing = [
        p
        for p in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature")
        if not fields.get(p)
    ]
    if missing:
        raise IamError("incomplete", f"Query-string authentication requires the {missing[0]} parameter.", 400)
    if fields["X-Amz-Algorithm"] != ALGORITHM:
        raise IamError("incomplete", 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256".', 400)
    key, date, region, service = _scope(fields["X-Amz-Credential"])
    try:
        expires = int(fields.get("X-Amz-Expires", "900"))
    except ValueError:
        raise IamError("incomplete", "X-Amz-Expires should be a number.", 400) from None
    if not 0 < expires <= MAX_PRESIGN_SECONDS:
        raise IamError("incomplete", "X-Amz-Expires must be less than a week (in seconds) that is 604800.", 400)
    return SignedRequest(
        access_key_id=key,
        date=date,
        region=region,
        service=service,
        amz_date=fields["X-Amz-Date"],
        signed_headers=tuple(fields["X-Amz-SignedHeaders"].split(";")),
        signature=fields["X-Amz-Signature"],
        security_token=fields.get("X-Amz-Security-Token") or None,
        presigned=True,
        expires=expires,
        payload_hash=UNSIGNED_PAYLOAD if service == "s3" else None,
    )


def _canonical_uri(service: str, raw_path: str) -> str:
    if service == "s3":
        return raw_path or "/"
    return quote(raw_path or "/", safe="/~")


def _canonical_query(query: str, presigned: bool) -> str:
    pairs = [
        (quote(k, safe="-_.~"), quote(v, safe="-_.~"))
        for k, v in _query_pairs(query)
        if not (presigned and k == "X-Amz-Signature")
    ]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def string_to_sign(
    req: SignedRequest, *, method: str, raw_path: str, query: str, headers: Mapping[str, str], payload_hash: str
) -> str:
    """Build the SigV4 string to sign of a request.

    Args:
        req: the claimed signature.
        method: the HTTP method.
        raw_path: the path exactly as sent (percent-encoded).
        query: the raw query string.
        headers: the request headers, lower-case names.
        payload_hash: the payload hash to sign.

    Returns:
        The string to sign.
    """
    lines = [method.upper(), _canonical_uri(req.service, raw_path), _canonical_query(query, req.presigned)]
    for name in req.signed_headers:
        lines.append(f"{name}:{' '.join(headers.get(name, '').split())}")
    canonical = "\n".join([*lines, "", ";".join(req.signed_headers), payload_hash])
    return "\n".join([ALGORITHM, req.amz_date, req.scope, hashlib.sha256(canonical.encode()).hexdigest()])


def verify_signature(
    req: SignedRequest,
    *,
    secret: str,
    method: str,
    raw_path: str,
    query: str,
    headers: Mapping[str, str],
    body_sha256: str | None,
    now: datetime,
) -> None:
    """Check a request's SigV4 signature with the signer's secret.

    Args:
        req: the claimed signature.
        secret: the secret access key of ``req.access_key_id``.
        method: the HTTP method.
        raw_path: the path exactly as sent.
        query: the raw query string.
        headers: the request headers, lower-case names.
        body_sha256: the hex SHA-256 of the body, when the caller read it (None when it streams it
            and checks a declared hash itself).
        now: the current (wall-clock) time.

    Raises:
        IamError: the signature, its date or its expiry is wrong.
    """
    try:
        when = datetime.strptime(req.amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise IamError("incomplete", "The request has no valid X-Amz-Date.", 400) from None
    if req.date != req.amz_date[:8]:
        raise IamError("bad-signature", "The credential scope's date does not match X-Amz-Date.")
    if req.presigned:
        assert req.expires is not None
        if now > when + timedelta(seconds=req.expires):
            raise IamError("expired", "Request has expired")
        if when > now + MAX_SKEW:
            raise IamError("skew", "Request is not valid yet (X-Amz-Date is in the future).")
    elif abs(now - when) > MAX_SKEW:
        raise IamError("skew", "The difference between the request time and the current time is too large.")
    if "host" not in req.signed_headers:
        raise IamError("bad-signature", "The host header must be signed.")
    payload = req.payload_hash or body_sha256
    if payload is None:
        raise IamError("incomplete", "The request has no x-amz-content-sha256 header.", 400)
    declared = req.payload_hash
    if declared is not None and body_sha256 is not None and _HEX64.match(declared) and declared != body_sha256:
        raise IamError("bad-digest", "The 'x-amz-content-sha256' header does not match the body's SHA-256.", 400)
    to_sign = string_to_sign(req, method=method, raw_path=raw_path, query=query, headers=headers, payload_hash=payload)
    expected = _signature(secret, req.date, req.region, req.service, to_sign)
    if not hmac.compare_digest(expected.encode(), req.signature.encode()):
        raise IamError("bad-signature", MSG_BAD_SIGNATURE)


def is_hex_digest(value: str | None) -> bool:
    """Tell whether a declared payload hash is a SHA-256 hex digest (not a marker such as UNSIGNED-PAYLOAD).

    Args:
        value: the ``x-amz-content-sha256`` value.

    Returns:
        True for 64 lower-case hex characters.
    """
    return bool(value and _HEX64.match(value))
