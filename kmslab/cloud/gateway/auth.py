"""Authentication at the gateway: who signed a request, in each service's own error vocabulary."""

from __future__ import annotations

from datetime import UTC, datetime

from kmslab.cloud.errors import PROTOCOLS, CloudError
from kmslab.cloud.gateway.request import Call, Incoming
from kmslab.iam import CloudIdentities, IamError, SignedRequest, verify_signature
from kmslab.iam.evaluate import anonymous_caller
from kmslab.iam.sigv2 import SignedV2, parse_sigv2_query, verify_sigv2
from kmslab.iam.sigv4 import is_hex_digest

#: (protocol family, IamError kind) -> (code, status)
_S3 = {
    "missing": ("AccessDenied", 403),
    "incomplete": ("AuthorizationHeaderMalformed", 400),
    "unknown-key": ("InvalidAccessKeyId", 403),
    "bad-signature": ("SignatureDoesNotMatch", 403),
    "expired": ("AccessDenied", 403),
    "skew": ("RequestTimeTooSkewed", 403),
    "bad-token": ("InvalidToken", 400),
    "expired-token": ("ExpiredToken", 400),
    "bad-digest": ("XAmzContentSHA256Mismatch", 400),
    "denied": ("AccessDenied", 403),
}
_QUERY = {
    "missing": ("MissingAuthenticationToken", 403),
    "incomplete": ("IncompleteSignature", 400),
    "unknown-key": ("InvalidClientTokenId", 403),
    "bad-signature": ("SignatureDoesNotMatch", 403),
    "expired": ("SignatureDoesNotMatch", 403),
    "skew": ("SignatureDoesNotMatch", 403),
    "bad-token": ("InvalidClientTokenId", 403),
    "expired-token": ("ExpiredToken", 403),
    "bad-digest": ("SignatureDoesNotMatch", 403),
    "denied": ("AccessDenied", 403),
}
_JSON = {
    "missing": ("MissingAuthenticationTokenException", 400),
    "incomplete": ("IncompleteSignatureException", 400),
    "unknown-key": ("UnrecognizedClientException", 400),
    "bad-signature": ("InvalidSignatureException", 400),
    "expired": ("InvalidSignatureException", 400),
    "skew": ("InvalidSignatureException", 400),
    "bad-token": ("UnrecognizedClientException", 400),
    "expired-token": ("ExpiredTokenException", 400),
    "bad-digest": ("InvalidSignatureException", 400),
    "denied": ("AccessDeniedException", 400),
}
MSG_UNKNOWN_KEY = {
    "rest-xml": "The AWS Access Key Id you provided does not exist in our records.",
}
MSG_DEFAULT_UNKNOWN = "The security token included in the request is invalid."


def as_cloud_error(service: str, error: IamError) -> CloudError:
    """Translate an authentication failure into the service's own error.

    Args:
        service: the signing name.
        error: the failure.

    Returns:
        The AWS-shaped error.
    """
    protocol = PROTOCOLS.get(service, "json")
    table = _S3 if protocol == "rest-xml" else _QUERY if protocol == "query" else _JSON
    code, status = table.get(error.kind, ("AccessDenied", 403))
    message = error.message
    if error.kind == "unknown-key":
        message = MSG_UNKNOWN_KEY.get(protocol, MSG_DEFAULT_UNKNOWN)
    return CloudError(code, message, status)


def authenticate(
    request: Incoming,
    signed: SignedRequest | None,
    *,
    identities: CloudIdentities,
    service: str,
    default_region: str,
    request_id: str,
    now: datetime | None = None,
) -> Call:
    """Verify a request's signature and say who sent it.

    Args:
        request: the request.
        signed: its claimed signature; None for an unsigned request (allowed only for S3, as anonymous).
        identities: who may sign.
        service: the signing name the gateway routes by.
        default_region: the region of an unsigned request.
        request_id: the request ID.
        now: the wall-clock time (tests pin it).

    Returns:
        The call.

    Raises:
        IamError: the request is not properly signed.
    """
    now = now or datetime.now(UTC)
    if signed is None:
        if service != "s3":
            raise IamError("missing", "Missing Authentication Token")
        v2 = parse_sigv2_query(request.query)
        if v2 is not None:
            return _authenticate_v2(request, v2, identities, default_region, request_id, now)
        caller = anonymous_caller(source_ip=request.source_ip, secure_transport=request.secure)
        return Call(
            caller=caller, region=default_region, service=service, request_id=request_id, signed=False, sigv4=False
        )
    identity = identities.by_access_key(signed.access_key_id)
    if identity is None:
        raise IamError("unknown-key", "unknown access key")
    session = identities.session(signed.access_key_id)
    if session is not None:
        if signed.security_token != session.session_token:
            raise IamError("bad-token", "The security token included in the request is invalid.")
        if session.expiration <= now:
            raise IamError("expired-token", "The security token included in the request is expired")
    elif signed.security_token:
        raise IamError("bad-token", "The security token included in the request is invalid.")
    streaming = service == "s3" and signed.payload_hash is not None
    body_hash = None if streaming else request.body_sha256()
    if service == "s3" and not signed.presigned and signed.payload_hash is None:
        raise IamError("incomplete", "Missing required header for this request: x-amz-content-sha256")
    verify_signature(
        signed,
        secret=identity.secret_access_key,
        method=request.method,
        raw_path=request.raw_path,
        query=request.query,
        headers=request.headers,
        body_sha256=body_hash,
        now=now,
    )
    caller = identity.caller(
        source_ip=request.source_ip, user_agent=request.headers.get("user-agent", ""), secure_transport=request.secure
    )
    return Call(
        caller=caller,
        region=signed.region,
        service=service,
        request_id=request_id,
        presigned=signed.presigned,
        payload_hash=signed.payload_hash if is_hex_digest(signed.payload_hash) else None,
    )


def _authenticate_v2(
    request: Incoming, signed: SignedV2, identities: CloudIdentities, region: str, request_id: str, now: datetime
) -> Call:
    """Verify an S3 Signature Version 2 presigned request (see :mod:`kmslab.iam.sigv2`)."""
    from kmslab.cloud.s3.urls import vhost_bucket

    identity = identities.by_access_key(signed.access_key_id)
    if identity is None:
        raise IamError("unknown-key", "unknown access key")
    session = identities.session(signed.access_key_id)
    if session is not None and (signed.security_token != session.session_token or session.expiration <= now):
        raise IamError("bad-token", "The provided token is malformed or otherwise invalid.")
    bucket = vhost_bucket(request.host)
    path = f"/{bucket}{request.raw_path}" if bucket else request.raw_path
    verify_sigv2(
        signed,
        secret=identity.secret_access_key,
        method=request.method,
        raw_path=path,
        query=request.query,
        headers=request.headers,
        now=now,
    )
    caller = identity.caller(
        source_ip=request.source_ip, user_agent=request.headers.get("user-agent", ""), secure_transport=request.secure
    )
    return Call(caller=caller, region=region, service="s3", request_id=request_id, presigned=True, sigv4=False)
