"""The local cloud's clock route (``/_kmslab/clock``): read it, or move it forward.

The local cloud has one clock, the KMS engine's (a :class:`~kmslab.kms._clockfile.SavedOffsetClock`
under ``<data-dir>/kms``): key rotations, pending deletions, imported material expiry and the
service events they raise (CloudTrail records, EventBridge events) all follow it. Moving it is an
admin act (every pending deletion can complete at once), guarded as ``kmslab kms serve`` guards
its own clock route: the request must carry the data directory's control token (header
``X-Kmslab-Control-Token``; ``<data-dir>/control.token``, mode 0600, so only the user who runs
the cloud can read it), and what only a browser sends (``Origin``, ``Sec-Fetch-*``, a POST that is
not JSON) is refused whatever it carries.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from kmslab.cloud.errors import CloudError
from kmslab.cloud.gateway.request import Incoming, Outgoing
from kmslab.kms._clockfile import MAX_CLOCK, clock_headroom
from kmslab.kms.control import TOKEN_HEADER, tokens_match

if TYPE_CHECKING:
    from kmslab.kms import LocalKms

__all__ = ["MAX_ADVANCE_SECONDS", "ClockRoute"]

#: the clock moves at most ~100 years per call (and never past MAX_CLOCK)
MAX_ADVANCE_SECONDS = 100 * 366 * 24 * 3600
_JSON_TYPES = ("application/json", "application/x-amz-json-1.0", "application/x-amz-json-1.1")


class ClockRoute:
    """Answer ``GET`` and ``POST /_kmslab/clock`` for one local cloud.

    Args:
        kms: the engine whose clock is the cloud's clock.
        token: the control token a request must present.
    """

    def __init__(self, kms: LocalKms, token: str) -> None:
        self._kms = kms
        self._token = token

    def __repr__(self) -> str:
        return "ClockRoute()"

    def handle(self, request: Incoming) -> Outgoing:
        """Answer one clock request.

        Args:
            request: the request.

        Returns:
            ``{"now": ISO 8601}`` (and ``advancedSeconds`` after a move).

        Raises:
            CloudError: refused (no token, a browser, bad input).
        """
        if request.method not in ("GET", "POST"):
            raise CloudError("MethodNotAllowed", f"{request.method[:10]} is not allowed on /_kmslab/clock", 405)
        headers = request.headers
        if "origin" in headers or any(name.startswith("sec-fetch-") for name in headers):
            raise CloudError(
                "AccessDeniedException", "Browser requests (Origin or Sec-Fetch headers) are refused.", 403
            )
        if not tokens_match(headers.get(TOKEN_HEADER.lower()), self._token):
            raise CloudError(
                "AccessDeniedException",
                f"The clock route needs the local cloud's control token (header {TOKEN_HEADER}, from "
                "<data-dir>/control.token; 'kmslab local clock' and 'kmslab local advance-time' send it).",
                403,
            )
        if request.method == "GET":
            return _ok({"now": self._kms.clock.now().isoformat()})
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media not in _JSON_TYPES:
            raise CloudError(
                "AccessDeniedException", f"Clock requests must be application/json, not {media[:60] or 'none'}.", 403
            )
        seconds = _advance_seconds(request.body(64 * 1024))
        now = self._kms.clock.now()
        if timedelta(seconds=seconds) > clock_headroom(now):
            raise CloudError(
                "ValidationException",
                f"advanceSeconds would move the clock past {MAX_CLOCK.isoformat()}, the latest it may show.",
                400,
            )
        moved = self._kms.advance_time(timedelta(seconds=seconds))
        return _ok({"now": moved.isoformat(), "advancedSeconds": seconds})


def _advance_seconds(body: bytes) -> float:
    try:
        params: Any = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise CloudError("SerializationException", "The request body is not valid JSON.", 400) from None
    if not isinstance(params, dict) or set(params) != {"advanceSeconds"}:
        raise CloudError("ValidationException", 'The body must be {"advanceSeconds": <number>}.', 400)
    seconds = params["advanceSeconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise CloudError("ValidationException", "advanceSeconds must be a number of seconds.", 400)
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_ADVANCE_SECONDS:
        raise CloudError("ValidationException", f"advanceSeconds must be between 0 and {MAX_ADVANCE_SECONDS}.", 400)
    return float(seconds)


def _ok(payload: dict[str, Any]) -> Outgoing:
    body = json.dumps(payload).encode()
    return Outgoing(200, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)
