"""The endpoint's control routes (``/_kmslab/health``, ``/_kmslab/clock``): who may call them, what they answer.

Private to :mod:`kmslab.kms.server`; the rules are described in :mod:`kmslab.kms.control`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from kmslab.kms._clockfile import MAX_CLOCK, clock_headroom
from kmslab.kms._http_types import Response, error_response
from kmslab.kms._protocol import CONTENT_TYPE
from kmslab.kms.control import TOKEN_HEADER, tokens_match
from kmslab.kms.errors import KmsError, SerializationException, ValidationException
from kmslab.kms.seams import Caller

if TYPE_CHECKING:
    from kmslab.kms import LocalKms

CONTROL_PREFIX = "/_kmslab/"
#: the clock moves at most ~100 years per call (and never past MAX_CLOCK)
MAX_ADVANCE_SECONDS = 100 * 366 * 24 * 3600
#: what a web page can POST without a CORS preflight (Fetch standard, "CORS-safelisted request-header")
SIMPLE_CONTENT_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")
JSON_CONTENT_TYPES = ("application/json", "application/x-amz-json-1.0", CONTENT_TYPE)

#: ``(headers, method, path, body, source_ip) -> (caller, region)``; raises KmsError to refuse.
Verify = Callable[[Mapping[str, str], str, str, bytes, str], tuple[Caller, str]]


class ControlRoutes:
    """Answer ``/_kmslab/*`` requests for one endpoint.

    Args:
        kms: the engine whose clock the routes read and move.
        account: the endpoint's account (shown to authorized callers only).
        region: the endpoint's default region.
        token: the control token a request may present.
        verify: the endpoint's SigV4 resolver when identities are on (None: signatures are not checked,
            so only the token authorizes).
        is_admin: tells whether a verified caller may use the control routes.
    """

    def __init__(
        self,
        kms: LocalKms,
        *,
        account: str,
        region: str,
        token: str,
        verify: Verify | None = None,
        is_admin: Callable[[Caller], bool] | None = None,
    ) -> None:
        self._kms = kms
        self._account = account
        self._region = region
        self._token = token
        self._verify = verify if is_admin is not None else None
        self._is_admin = is_admin

    def __repr__(self) -> str:
        return f"ControlRoutes(account={self._account!r})"

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes, source_ip: str) -> Response:
        """Answer one control request.

        Args:
            method: the HTTP method.
            path: the request target (starts with ``/_kmslab/``).
            headers: the request headers.
            body: the request body.
            source_ip: the client address.

        Returns:
            The answer.

        Raises:
            KmsError: an AWS-shaped refusal (bad input, a bad signature).
        """
        route = path.split("?", 1)[0][len(CONTROL_PREFIX) :]
        if route not in ("health", "clock"):
            return error_response(400, "UnknownOperationException", f"No such control route: {path[:200]}")
        refusal = _browser_refusal(method, headers)
        if refusal is not None:
            return refusal
        authorized = self._authorized(method, path, headers, body, source_ip)
        now = self._kms.clock.now()
        if route == "health" and method == "GET":
            if not authorized:  # liveness only: no account, region or clock for strangers
                return _ok({"status": "ok", "service": "kmslab-kms"})
            return _ok(
                {
                    "status": "ok",
                    "service": "kmslab-kms",
                    "account": self._account,
                    "region": self._region,
                    "now": now.isoformat(),
                }
            )
        if method not in ("GET", "POST"):
            return error_response(400, "ValidationException", f"{method[:20]} is not supported on {path[:200]}.")
        if not authorized:
            return error_response(
                403,
                "AccessDeniedException",
                "The local KMS control routes need the endpoint's control token (header "
                f"{TOKEN_HEADER}, from <data dir>/control.token; 'kmslab kms advance-time --data-dir DIR' sends it) "
                "or a request signed by an identity with admin: true.",
            )
        if method == "GET":
            return _ok({"now": now.isoformat()})
        seconds = _advance_seconds(json_object(body))
        if timedelta(seconds=seconds) > clock_headroom(now):
            raise ValidationException(
                f"advanceSeconds would move the clock past {MAX_CLOCK.isoformat()}, the latest it may show; "
                f"at most {int(clock_headroom(now).total_seconds())} seconds are left."
            )
        try:
            moved = self._kms.advance_time(timedelta(seconds=seconds))
        except TypeError as exc:
            raise ValidationException("This endpoint's clock cannot be moved.") from exc
        return _ok({"now": moved.isoformat(), "advancedSeconds": seconds})

    def _authorized(self, method: str, path: str, headers: Mapping[str, str], body: bytes, source_ip: str) -> bool:
        lower = {str(name).lower(): str(value) for name, value in headers.items()}
        if tokens_match(lower.get(TOKEN_HEADER.lower()), self._token):
            return True
        if self._verify is None or self._is_admin is None or not lower.get("authorization"):
            return False
        try:
            caller, _ = self._verify(headers, method, path, body, source_ip)
        except KmsError:
            if path.split("?", 1)[0] == CONTROL_PREFIX + "health":
                return False  # health answers anyone; a bad signature only hides the details
            raise
        return self._is_admin(caller)


def _browser_refusal(method: str, headers: Mapping[str, str]) -> Response | None:
    """Refuse what only a web browser sends: a page the user visits must not reach the control routes."""
    lower = {str(name).lower(): str(value) for name, value in headers.items()}
    if "origin" in lower or any(name.startswith("sec-fetch-") for name in lower):
        return error_response(
            403, "AccessDeniedException", "Browser requests (with an Origin or Sec-Fetch header) are refused."
        )
    if method == "POST":
        media = lower.get("content-type", "").split(";", 1)[0].strip().lower()
        if media not in JSON_CONTENT_TYPES:
            shown = media[:60] or "none"
            return error_response(
                400 if media not in SIMPLE_CONTENT_TYPES else 403,
                "AccessDeniedException" if media in SIMPLE_CONTENT_TYPES else "ValidationException",
                f"Control requests must be application/json (got {shown}).",
            )
    return None


def _ok(payload: Mapping[str, Any]) -> Response:
    return Response(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def json_object(body: bytes) -> dict[str, Any]:
    """Parse a JSON request body that must be an object (an empty body is ``{}``).

    Args:
        body: the request body.

    Returns:
        The object.

    Raises:
        SerializationException: the body is not JSON, or not a JSON object.
    """
    try:
        value = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise SerializationException("The request body is not valid JSON.") from exc
    if not isinstance(value, dict):
        raise SerializationException("The request body must be a JSON object.")
    return value


def _advance_seconds(params: Mapping[str, Any]) -> float:
    unknown = sorted(set(params) - {"advanceSeconds"})
    if unknown:
        raise ValidationException(f"Unknown field(s): {', '.join(unknown)[:200]}; expected advanceSeconds.")
    seconds = params.get("advanceSeconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValidationException("advanceSeconds must be a number of seconds.")
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_ADVANCE_SECONDS:
        raise ValidationException(f"advanceSeconds must be between 0 and {MAX_ADVANCE_SECONDS}.")
    return seconds
