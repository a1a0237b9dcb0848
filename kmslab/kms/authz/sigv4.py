"""AWS Signature Version 4: verify the signature on every request to the local endpoint.

The canonical request is built as the SigV4 specification (and botocore's signer) builds it:
method, URI-encoded path, sorted query, the signed headers (lower-case names, values with runs
of spaces collapsed), the signed-header list and the SHA-256 of the body. Signatures are
compared with :func:`hmac.compare_digest`.

What the signature must cover, as AWS requires (IAM User Guide, "Create a canonical request for
Signature Version 4"): the ``host`` header is always signed; the date header the request is dated by
(``x-amz-date``, else ``date``) is signed; and so is every other ``x-amz-*`` header the request
carries that changes its meaning (``x-amz-target``: an unsigned target could turn DescribeKey into
DisableKey; ``x-amz-content-sha256`` and ``x-amz-security-token``). The payload hash in the
canonical request is always the SHA-256 of the body as received: an ``x-amz-content-sha256``
header must equal it (``UNSIGNED-PAYLOAD`` is an S3 option, not one for JSON services). The
credential scope's service must be the one the request is for (``kms`` for a KMS call,
``cloudtrail`` for CloudTrail LookupEvents mounted on the same endpoint).

Clock: the date check uses the *wall clock* by default (``SystemClock()`` with no offset), not
the engine clock: ``kmslab kms advance-time`` moves key schedules forward, but clients keep
signing with real time, so checking against the engine clock would refuse every request after
an advance. Pass ``clock=`` to pin it (tests use ``FixedClock``). AWS allows 15 minutes of skew.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from kmslab.kms._protocol import TARGET_PREFIX
from kmslab.kms.authz.identities import IdentityStore
from kmslab.kms.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from kmslab.kms.seams import Caller, Clock, SystemClock

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICES = ("kms", "cloudtrail")
#: the signing name of each service, by its ``X-Amz-Target`` prefix; requests without one (the
#: endpoint's control routes) are signed for ``kms``
SIGNING_NAMES: dict[str, str] = {
    TARGET_PREFIX: "kms",
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.": "cloudtrail",
}
#: headers that must be in SignedHeaders whenever the request carries them
_MUST_SIGN_WHEN_PRESENT = ("x-amz-target", "x-amz-content-sha256", "x-amz-security-token")
MAX_SKEW = timedelta(minutes=15)

#: AWS's messages (see the module docstring of the tests for their sources).
MSG_UNRECOGNIZED = "The security token included in the request is invalid."
MSG_BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
MSG_MISSING = "Missing Authentication Token"

_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_PARAM_RE = re.compile(r"(\w+)=([^,\s]*)")


def _headers(headers: Mapping[str, str] | Iterable[tuple[str, str]] | Any) -> dict[str, list[str]]:
    items = headers.items() if hasattr(headers, "items") else headers
    out: dict[str, list[str]] = {}
    for name, value in items:
        out.setdefault(str(name).lower(), []).append(str(value))
    return out


def _canonical_uri(path: str) -> str:
    return quote(unquote(path) or "/", safe="/~")


def _canonical_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request(method: str, path: str, headers: Mapping[str, list[str]], signed: list[str], body: bytes) -> str:
    """Build the SigV4 canonical request.

    Args:
        method: the HTTP method.
        path: the request target (path and optional query string, percent-encoded as sent).
        headers: lower-case header name -> values.
        signed: the signed header names, lower-case, in the order of SignedHeaders.
        body: the request body.

    Returns:
        The canonical request text.
    """
    split = urlsplit(path)
    lines = [method.upper(), _canonical_uri(split.path), _canonical_query(split.query)]
    for name in signed:
        values = headers.get(name, [])
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}")
    # The received body's own hash, never a hash the request claims (see payload_hash).
    return "\n".join([*lines, "", ";".join(signed), hashlib.sha256(body).hexdigest()])


def signing_name(target: str | None) -> str:
    """Return the SigV4 service name a request must be signed for.

    Args:
        target: the request's ``X-Amz-Target`` header, if any.

    Returns:
        ``kms``, ``cloudtrail``, ...; ``kms`` for requests without a target (the control routes).
    """
    if target:
        for prefix, name in SIGNING_NAMES.items():
            if target.startswith(prefix):
                return name
    return "kms"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signature(secret: str, date: str, region: str, service: str, string_to_sign: str) -> str:
    """Compute a SigV4 signature.

    Args:
        secret: the secret access key.
        date: the scope date, ``YYYYMMDD``.
        region: the scope region.
        service: the scope service.
        string_to_sign: the string to sign.

    Returns:
        The hex signature.
    """
    key = _hmac(("AWS4" + secret).encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    key = _hmac(key, "aws4_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


class SigV4Resolver:
    """Verifies SigV4 and tells the endpoint who is calling.

    Use as ``KmsServer(kms, host, port, identity_resolver=SigV4Resolver(store))``.

    Args:
        store: the identities that may sign.
        clock: the clock for the X-Amz-Date skew check (default: the wall clock).
    """

    def __init__(self, store: IdentityStore, *, clock: Clock | None = None) -> None:
        self._store = store
        self._clock: Clock = clock or SystemClock()

    def __repr__(self) -> str:
        return f"SigV4Resolver({self._store!r})"

    def is_control_admin(self, caller: Caller) -> bool:
        """Whether a verified caller may use the endpoint's control routes (``admin: true`` in the identities file).

        Args:
            caller: a caller this resolver returned.

        Returns:
            True for an admin identity.
        """
        identity = self._store.by_access_key(caller.access_key_id or "")
        return identity is not None and identity.admin and identity.arn == caller.arn

    def __call__(
        self, headers: Mapping[str, str] | Any, method: str, path: str, body: bytes, source_ip: str
    ) -> tuple[Caller, str]:
        """Verify one request.

        Args:
            headers: the request headers (a mapping or an ``http.client.HTTPMessage``).
            method: the HTTP method.
            path: the request target as sent (path and query).
            body: the raw body.
            source_ip: the client address.

        Returns:
            The caller and the region from the credential scope.

        Raises:
            MissingAuthenticationTokenException: no Authorization header.
            IncompleteSignatureException: the header lacks Credential, SignedHeaders or Signature.
            UnrecognizedClientException: the access key is unknown.
            InvalidSignatureException: the signature, scope or date is wrong.
        """
        hdrs = _headers(headers)
        auth = (hdrs.get("authorization") or [""])[0].strip()
        if not auth:
            raise MissingAuthenticationTokenException(MSG_MISSING)
        algorithm, _, rest = auth.partition(" ")
        if algorithm != ALGORITHM:
            raise IncompleteSignatureException(f"Unsupported AWS 'algorithm': '{algorithm}'")
        params = dict(_PARAM_RE.findall(rest))
        missing = [p for p in ("Credential", "SignedHeaders", "Signature") if not params.get(p)]
        if missing:
            raise IncompleteSignatureException(
                " ".join(f"Authorization header requires '{p}' parameter." for p in missing)
                + f" Authorization={auth.split(' Signature=')[0]}"
            )
        scope = params["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise IncompleteSignatureException(
                f"Credential should be scoped to a valid region, not '{scope[2] if len(scope) > 2 else ''}'. "
            )
        access_key, date, region, service, _ = scope
        identity = self._store.by_access_key(access_key)
        if identity is None:
            raise UnrecognizedClientException(MSG_UNRECOGNIZED)
        expected_service = signing_name((hdrs.get("x-amz-target") or [""])[0])
        if service != expected_service:
            raise InvalidSignatureException(f"Credential should be scoped to correct service: '{expected_service}'. ")
        signed = params["SignedHeaders"].split(";")
        amz_date, when = _request_date(hdrs, signed)
        if date != amz_date[:8]:
            raise InvalidSignatureException(
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{date}' != '{amz_date[:8]}', from '{amz_date}'."
            )
        self._check_skew(when, amz_date)
        _check_signed_headers(hdrs, signed)
        _check_payload_hash(hdrs, body)
        creq = canonical_request(method, path, hdrs, signed, body)
        to_sign = "\n".join(
            [ALGORITHM, amz_date, f"{date}/{region}/{service}/aws4_request", hashlib.sha256(creq.encode()).hexdigest()]
        )
        expected = signature(identity.secret_access_key, date, region, service, to_sign)
        if not hmac.compare_digest(expected.encode(), params["Signature"].encode()):
            raise InvalidSignatureException(MSG_BAD_SIGNATURE)
        user_agent = (hdrs.get("user-agent") or [""])[0]
        return identity.caller(source_ip=source_ip, user_agent=user_agent), region

    def _check_skew(self, when: datetime, amz_date: str) -> None:
        now = self._clock.now().astimezone(UTC)
        if when < now - MAX_SKEW:
            raise InvalidSignatureException(
                f"Signature expired: {amz_date} is now earlier than {(now - MAX_SKEW).strftime(_AMZ_DATE)} "
                f"({now.strftime(_AMZ_DATE)} - 15 min.)"
            )
        if when > now + MAX_SKEW:
            raise InvalidSignatureException(
                f"Signature not yet current: {amz_date} is still later than {(now + MAX_SKEW).strftime(_AMZ_DATE)} "
                f"({now.strftime(_AMZ_DATE)} + 15 min.)"
            )


def _request_date(hdrs: Mapping[str, list[str]], signed: list[str]) -> tuple[str, datetime]:
    """Return the request's ISO-8601 basic timestamp and its time, from ``x-amz-date`` or else ``date``.

    The header the date comes from must be signed: an unsigned date could be replayed forever.
    """
    missing = IncompleteSignatureException(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )
    amz_date = (hdrs.get("x-amz-date") or [""])[0]
    if amz_date:
        name = "x-amz-date"
        try:
            when = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
        except ValueError:
            raise missing from None
    else:
        name = "date"
        raw = (hdrs.get("date") or [""])[0]
        try:
            when = parsedate_to_datetime(raw).astimezone(UTC)
        except (TypeError, ValueError, IndexError, OverflowError):
            raise missing from None
        amz_date = when.strftime(_AMZ_DATE)
    if name not in signed:
        raise InvalidSignatureException(f"The '{name}' header must be signed (listed in SignedHeaders).")
    return amz_date, when


def _check_signed_headers(hdrs: Mapping[str, list[str]], signed: list[str]) -> None:
    """Refuse a signature that leaves ``host`` or a meaningful ``x-amz-*`` header out of SignedHeaders."""
    if "host" not in signed:
        raise InvalidSignatureException("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    for name in _MUST_SIGN_WHEN_PRESENT:
        if name in hdrs and name not in signed:
            raise InvalidSignatureException(f"'{name}' is present in the request but not a 'SignedHeader'.")


def _check_payload_hash(hdrs: Mapping[str, list[str]], body: bytes) -> None:
    """Refuse an ``x-amz-content-sha256`` header that is not the SHA-256 of the body received."""
    claimed = hdrs.get("x-amz-content-sha256")
    if claimed is None:
        return
    actual = hashlib.sha256(body).hexdigest()
    if len(claimed) != 1 or not hmac.compare_digest(claimed[0].strip().lower().encode(), actual.encode()):
        raise InvalidSignatureException(
            "The provided 'x-amz-content-sha256' header does not match what was computed "
            "(JSON services need the body's SHA-256; UNSIGNED-PAYLOAD is not accepted)."
        )
