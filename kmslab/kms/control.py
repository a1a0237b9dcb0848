"""A small client for the control routes of a running local KMS endpoint (``/_kmslab/...``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any

from kmslab.errors import KmslabError


class EndpointError(KmslabError):
    """The local KMS endpoint cannot be reached, or refused a control request."""


class ControlClient:
    """Read and move the clock of a running local KMS, and check that it is up.

    Args:
        endpoint: the endpoint URL, e.g. ``http://127.0.0.1:4599``.
        timeout: seconds to wait for each answer.

    Raises:
        EndpointError: the URL is not http(s).
    """

    def __init__(self, endpoint: str, *, timeout: float = 10.0) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise EndpointError(f"the endpoint must be an http:// or https:// URL, not {endpoint!r}")
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout

    def health(self) -> dict[str, Any]:
        """Return the endpoint's health answer.

        Returns:
            ``{"status": "ok", "account": ..., "region": ..., "now": ...}``.

        Raises:
            EndpointError: the endpoint cannot be reached or answered badly.
        """
        return self.request("GET", "/_kmslab/health")

    def now(self) -> datetime:
        """Return the endpoint's current time.

        Returns:
            A timezone-aware datetime.

        Raises:
            EndpointError: the endpoint cannot be reached or answered badly.
        """
        return _parse_time(self.request("GET", "/_kmslab/clock"))

    def advance(self, delta: timedelta) -> datetime:
        """Move the endpoint's clock forward; whatever falls due (pending deletions) happens.

        Args:
            delta: how far; not negative.

        Returns:
            The endpoint's new current time.

        Raises:
            EndpointError: the endpoint cannot be reached or refused the request.
        """
        return _parse_time(self.request("POST", "/_kmslab/clock", {"advanceSeconds": delta.total_seconds()}))

    def request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call one control route.

        Args:
            method: ``GET`` or ``POST``.
            path: the route, e.g. ``/_kmslab/clock``.
            payload: the JSON body of a POST.

        Returns:
            The JSON answer.

        Raises:
            EndpointError: the endpoint cannot be reached, refused the request or is not a local KMS.
        """
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.endpoint + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - scheme checked
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise EndpointError(f"{self.endpoint} refused the request: {_error_text(exc.read())}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EndpointError(f"cannot reach the local KMS at {self.endpoint}: {reason}") from exc
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise EndpointError(f"{self.endpoint} is not a local KMS endpoint (its answer is not JSON)") from exc
        if not isinstance(answer, dict):
            raise EndpointError(f"{self.endpoint} is not a local KMS endpoint (unexpected answer)")
        return answer


def _parse_time(answer: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(answer["now"]))
    except (KeyError, ValueError) as exc:
        raise EndpointError("the endpoint's clock answer has no valid 'now'") from exc


def _error_text(body: bytes) -> str:
    try:
        parsed = json.loads(body)
        return f"{parsed.get('__type', 'Error')}: {parsed.get('message', '')}"
    except (ValueError, AttributeError):
        return " ".join(body.decode("utf-8", "replace").split())[:200] or "no details"
