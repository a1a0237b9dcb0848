"""The KMS JSON 1.1 wire layer, shared by the HTTP endpoint and the in-process boto3 client.

:func:`dispatch` turns one HTTP-shaped request (``X-Amz-Target`` + JSON body) into one
engine call and answers in AWS's shape: a JSON body, ``application/x-amz-json-1.1``,
``x-amzn-RequestId``, and errors as ``{"__type", "message"}`` with their HTTP status.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kmslab.kms._http import Headers
from kmslab.kms.errors import (
    KmsError,
    KMSInternalException,
    SerializationException,
    UnknownOperationException,
)
from kmslab.kms.seams import Caller

if TYPE_CHECKING:
    from kmslab.kms.engine import LocalKms

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "TrentService."
_SCOPE_RE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/[a-z0-9-]+/aws4_request")
# json.dumps(payload, separators=(",", ":")) builds an encoder per call; one shared encoder gives the same text.
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _compact_encoder() -> Callable[[Any], str]:
    """Return a function that encodes like ``_ENCODER.encode``, reusing one C encoder when there is one.

    The engine's answers hold no reference cycles (fresh dicts of strings, numbers and lists), so the
    circular-reference bookkeeping ``JSONEncoder`` sets up per call is skipped.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the C accelerator
        return _ENCODER.encode
    encode_chunks = make(
        None, _ENCODER.default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
    )

    def encode(payload: Any) -> str:
        return "".join(encode_chunks(payload, 0))

    return encode


_encode = _compact_encoder()
# Callers are frozen values: one per (account, access key, source IP, user agent) is shared between requests.
_CALLERS: dict[tuple[str, str | None, str, str], Caller] = {}
_CALLERS_MAX = 4096
_CALLERS_LOCK = threading.Lock()


@dataclass(frozen=True)
class WireResponse:
    """One HTTP response.

    Args:
        status: the HTTP status.
        body: the JSON body.
        headers: the response headers.
    """

    status: int
    body: bytes = field(repr=False)
    headers: dict[str, str]


def _answer(status: int, payload: Mapping[str, Any], request_id: str) -> WireResponse:
    body = _encode(payload).encode()
    headers = {
        "Content-Type": CONTENT_TYPE,
        "x-amzn-RequestId": request_id,
        "Content-Length": str(len(body)),
    }
    return WireResponse(status=status, body=body, headers=headers)


def error_response(error: KmsError, request_id: str) -> WireResponse:
    """Answer with an AWS-shaped error.

    Args:
        error: the error.
        request_id: the request ID.

    Returns:
        The response.
    """
    return _answer(error.status, error.to_response(), request_id)


def dispatch(kms: LocalKms, *, target: str, body: bytes, caller: Caller, region: str, request_id: str) -> WireResponse:
    """Answer one KMS JSON request.

    Args:
        kms: the engine.
        target: the ``X-Amz-Target`` header (``TrentService.<Operation>``).
        body: the request body.
        caller: who signed the request.
        region: the request's region.
        request_id: the request ID to answer with.

    Returns:
        The HTTP response; never raises.
    """
    try:
        operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        if operation not in kms.OPERATIONS:
            raise UnknownOperationException(f"Unknown operation {target!r}")
        try:
            params = json.loads(body.decode("utf-8")) if body and not body.isspace() else {}
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise SerializationException("The request body is not valid JSON.") from None
        if not isinstance(params, dict):
            raise SerializationException("The request body must be a JSON object.")
        result = kms.call(operation, params, caller=caller, region=region, request_id=request_id)
        return _answer(200, result, request_id)
    except KmsError as exc:
        return error_response(exc, request_id)
    except Exception:
        log.exception("internal error answering %s (request %s)", target, request_id)
        return error_response(KMSInternalException("An internal error occurred."), request_id)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    if isinstance(headers, Headers):  # the HTTP layer's headers: lower-case names, one value each
        value: str | None = headers.get(name)
        return value
    lower = name.lower()
    for key, value in headers.items():
        if key.lower() == lower:
            return value
    return None


def caller_from_headers(
    headers: Mapping[str, str], *, account: str, source_ip: str, default_region: str | None = None
) -> tuple[Caller, str | None]:
    """Derive the default identity and region of a signed request.

    The region comes from the SigV4 credential scope of the Authorization header
    (``Credential=AKID/20260101/eu-west-1/kms/aws4_request``); the caller is the account root.

    Args:
        headers: the request headers.
        account: the account that owns the endpoint.
        source_ip: the client address.
        default_region: the region when the header names none (None: let the endpoint use the engine's).

    Returns:
        (caller, region or ``default_region``).
    """
    authorization = _header(headers, "Authorization") or ""
    match = _SCOPE_RE.search(authorization)
    access_key = match.group(1) if match else None
    region = match.group(2) if match else default_region
    user_agent = _header(headers, "User-Agent") or ""
    cache_key = (account, access_key, source_ip, user_agent)
    caller = _CALLERS.get(cache_key)
    if caller is None:
        caller = Caller.root(account, access_key_id=access_key, source_ip=source_ip, user_agent=user_agent)
        with _CALLERS_LOCK:
            if len(_CALLERS) >= _CALLERS_MAX:
                _CALLERS.clear()  # many distinct clients: start over rather than grow without bound
            _CALLERS[cache_key] = caller
    return caller, region
