"""The KMS JSON 1.1 wire layer, called by the HTTP endpoint (:func:`answer`) and the in-process boto3 client.

:func:`dispatch` turns one HTTP-shaped request (``X-Amz-Target`` + JSON body) into one
engine call and answers in AWS's shape: a JSON body, ``application/x-amz-json-1.1``,
``x-amzn-RequestId``, and errors as ``{"__type", "message"}`` with their HTTP status.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kmslab.kms._http_read import Headers
from kmslab.kms._protocol import CONTENT_TYPE, TARGET_PREFIX
from kmslab.kms.errors import KmsError, SerializationException, UnknownOperationException
from kmslab.kms.seams import Caller


class Engine(Protocol):
    """What the wire layer needs of the engine (:class:`kmslab.kms.LocalKms` is one)."""

    account: str
    OPERATIONS: frozenset[str]

    def call(
        self,
        operation: str,
        params: Mapping[str, Any],
        *,
        caller: Caller | None = None,
        region: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Answer one KMS API request (see :meth:`kmslab.kms.LocalKms.call`)."""
        ...


__all__ = ["CONTENT_TYPE", "TARGET_PREFIX", "Engine", "WireResponse", "answer", "caller_from_headers", "dispatch"]

_PREFIX_LENGTH = len(TARGET_PREFIX)
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
# Characters a JSON string may hold unescaped in the encoder's ASCII output (quotes are counted apart).
_PLAIN_JSON_BYTES = bytes(c for c in range(0x20, 0x7F) if c != 0x5C)


def _encode_body(payload: Mapping[str, Any]) -> bytes:
    """Return ``_encode(payload).encode()``, faster for answers of plain text values.

    Most answers are flat objects of short ASCII strings plus a long base64 blob, none of which need
    escaping; escaping them char by char is most of the encoding time. Such an object is assembled
    directly and checked once (exactly four quotes per member, only printable ASCII and no backslash);
    anything else (numbers, lists, escapes, non-ASCII) goes through the encoder.

    Args:
        payload: the JSON object.

    Returns:
        The JSON text as bytes, byte for byte what the encoder gives.
    """
    try:
        body = ("{" + ",".join(['"' + k + '":"' + v + '"' for k, v in payload.items()]) + "}").encode("ascii")
    except (TypeError, UnicodeEncodeError):  # a value that is not a string, or not ASCII
        return _encode(payload).encode()
    if body.count(b'"') != 4 * len(payload) or body.translate(None, _PLAIN_JSON_BYTES):
        return _encode(payload).encode()
    return body


_DECODER = json.JSONDecoder()


def _loads(text: str) -> Any:
    """Decode JSON text exactly as ``json.loads(text)`` does, without its per-call argument handling."""
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


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


def dispatch(kms: Engine, *, target: str, body: bytes, caller: Caller, region: str, request_id: str) -> WireResponse:
    """Answer one KMS JSON request.

    Args:
        kms: the engine.
        target: the ``X-Amz-Target`` header (``TrentService.<Operation>``).
        body: the request body.
        caller: who signed the request.
        region: the request's region.
        request_id: the request ID to answer with.

    Returns:
        The HTTP response (errors are AWS-shaped answers, see :func:`answer`).
    """
    status, payload = answer(kms, target, body, caller, region, request_id)
    headers = {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id, "Content-Length": str(len(payload))}
    return WireResponse(status=status, body=payload, headers=headers)


def answer(kms: Engine, target: str, body: bytes, caller: Caller, region: str, request_id: str) -> tuple[int, bytes]:
    """Answer one KMS JSON request with its status and JSON body (the endpoint's hot path).

    Args:
        kms: the engine.
        target: the ``X-Amz-Target`` header (``TrentService.<Operation>``).
        body: the request body.
        caller: who signed the request.
        region: the request's region.
        request_id: the request ID.

    Returns:
        (HTTP status, JSON body). A bug in an operation is a 500 answer (caught and logged by the engine);
        a bug here reaches the caller (the HTTP layer logs it and answers 500).
    """
    try:
        operation = target[_PREFIX_LENGTH:] if target.startswith(TARGET_PREFIX) else ""
        if operation not in kms.OPERATIONS:
            raise UnknownOperationException(f"Unknown operation {target!r}")
        try:
            params = _loads(body.decode("utf-8")) if body and not body.isspace() else {}
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise SerializationException("The request body is not valid JSON.") from None
        if type(params) is not dict:
            raise SerializationException("The request body must be a JSON object.")
        return 200, _encode_body(kms.call(operation, params, caller=caller, region=region, request_id=request_id))
    except KmsError as exc:
        return exc.status, exc.to_body()


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
    if type(headers) is Headers:  # the HTTP layer's headers: read its lower-case fields directly
        fields = headers.fields
        authorization = fields.get("authorization") or ""
        user_agent = fields.get("user-agent") or ""
    else:
        authorization = _header(headers, "Authorization") or ""
        user_agent = _header(headers, "User-Agent") or ""
    match = _SCOPE_RE.search(authorization)
    access_key = match.group(1) if match else None
    region = match.group(2) if match else default_region
    cache_key = (account, access_key, source_ip, user_agent)
    caller = _CALLERS.get(cache_key)
    if caller is None:
        caller = Caller.root(account, access_key_id=access_key, source_ip=source_ip, user_agent=user_agent)
        with _CALLERS_LOCK:
            if len(_CALLERS) >= _CALLERS_MAX:
                _CALLERS.clear()  # many distinct clients: start over rather than grow without bound
            _CALLERS[cache_key] = caller
    return caller, region
