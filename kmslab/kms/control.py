"""The control routes of a running local KMS endpoint (``/_kmslab/...``): who may use them, and a client.

The routes move the engine's clock (every pending deletion can complete at once), so they are
guarded like an admin API:

* a request must carry the endpoint's **control token** (header ``X-Kmslab-Control-Token``), a
  random secret kept in ``<data dir>/control.token`` (mode 0600: only the user who runs the
  endpoint can read it; ``kmslab kms advance-time --data-dir`` reads it there), or
* with identities on, be SigV4-signed (service ``kms``) by an identity marked ``admin: true``.

Browser-style requests are refused whatever they carry: any ``Origin`` or ``Sec-Fetch-*`` header
(a web page the user visits cannot forge a request without them), and a POST whose content type
is not JSON (``text/plain``, forms and ``multipart/form-data`` are what a page can send without a
CORS preflight). ``GET /_kmslab/health`` answers anyone, but names the account and region only
to an authorized caller.

In-process helpers (the offline lab, tests) need no file: a server registers its token here
under its URL, and :class:`ControlClient` finds it.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kmslab._fsutil import private_dir, write_private_atomic
from kmslab.errors import KmslabError

__all__ = [
    "TOKEN_FILE",
    "TOKEN_HEADER",
    "ControlClient",
    "EndpointError",
    "forget_token",
    "load_or_create_token",
    "read_token",
    "register_token",
    "tokens_match",
]

TOKEN_FILE = "control.token"  # noqa: S105 - a file name, not a secret
TOKEN_HEADER = "X-Kmslab-Control-Token"  # noqa: S105 - a header name
_TOKEN_BYTES = 32
_REGISTRY: dict[tuple[str, int], str] = {}
_REGISTRY_LOCK = threading.Lock()


class EndpointError(KmslabError):
    """The local KMS endpoint cannot be reached, or refused a control request."""


def new_token() -> str:
    """Return a fresh random control token.

    Returns:
        64 hex characters.
    """
    return secrets.token_hex(_TOKEN_BYTES)


def _valid(token: str) -> bool:
    return len(token) == 2 * _TOKEN_BYTES and all(c in "0123456789abcdef" for c in token)


def read_token(data_dir: str | Path) -> str | None:
    """Read the control token of the endpoint that serves ``data_dir``.

    Args:
        data_dir: the endpoint's data directory.

    Returns:
        The token, or None when the directory has none (or it cannot be read).
    """
    try:
        token = (Path(data_dir) / TOKEN_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token if _valid(token) else None


def load_or_create_token(data_dir: str | Path) -> str:
    """Return the data directory's control token, creating it (mode 0600, atomically) if missing or damaged.

    The token is not key material: a damaged one is simply replaced.

    Args:
        data_dir: the endpoint's data directory (created 0700 if missing).

    Returns:
        The token.

    Raises:
        OSError: the token file cannot be written.
    """
    directory = private_dir(data_dir)
    token = read_token(directory)
    if token is not None:
        return token
    token = new_token()
    try:
        write_private_atomic(directory / TOKEN_FILE, token.encode(), replace=(directory / TOKEN_FILE).exists())
    except FileExistsError:  # another process wrote one first
        return read_token(directory) or load_or_create_token(directory)
    return token


def tokens_match(given: str | None, expected: str) -> bool:
    """Compare a presented control token with the endpoint's, in constant time.

    Args:
        given: the header's value, if any.
        expected: the endpoint's token.

    Returns:
        Whether they match.
    """
    return given is not None and hmac.compare_digest(given.strip().encode("latin-1", "replace"), expected.encode())


def _address(url: str) -> tuple[str, int] | None:
    try:
        split = urlsplit(url)
        port = split.port or (443 if split.scheme == "https" else 80)
    except ValueError:
        return None
    host = (split.hostname or "").lower()
    return ("127.0.0.1" if host == "localhost" else host), port


def register_token(url: str, token: str) -> None:
    """Let in-process :class:`ControlClient` objects for ``url`` find this endpoint's token.

    Args:
        url: the endpoint URL.
        token: its control token.
    """
    address = _address(url)
    if address is not None:
        with _REGISTRY_LOCK:
            _REGISTRY[address] = token


def forget_token(url: str, token: str) -> None:
    """Undo :func:`register_token` (when the endpoint stops).

    Args:
        url: the endpoint URL.
        token: its control token (another endpoint may since have the same address).
    """
    address = _address(url)
    with _REGISTRY_LOCK:
        if address is not None and _REGISTRY.get(address) == token:
            del _REGISTRY[address]


def _registered(url: str) -> str | None:
    address = _address(url)
    with _REGISTRY_LOCK:
        return _REGISTRY.get(address) if address is not None else None


class ControlClient:
    """Read and move the clock of a running local KMS, and check that it is up.

    The client authorizes itself with, in this order: ``token``; the token in ``data_dir``; the
    token of an endpoint running in this process at ``endpoint``; else a request signed with
    ``credentials`` (an identity with ``admin: true``).

    Args:
        endpoint: the endpoint URL, e.g. ``http://127.0.0.1:4599``.
        timeout: seconds to wait for each answer.
        token: the endpoint's control token.
        data_dir: the endpoint's data directory, to read the token from.
        credentials: ``(access key ID, secret access key)`` of an admin identity, to sign with.
        region: the region to sign for.

    Raises:
        EndpointError: the URL is not http(s).
    """

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = 10.0,
        token: str | None = None,
        data_dir: str | Path | None = None,
        credentials: tuple[str, str] | None = None,
        region: str = "us-east-1",
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise EndpointError(f"the endpoint must be an http:// or https:// URL, not {endpoint!r}")
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        self._token = token
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._credentials = credentials
        self._region = region

    def __repr__(self) -> str:
        return f"ControlClient({self.endpoint!r})"

    def health(self) -> dict[str, Any]:
        """Return the endpoint's health answer.

        Returns:
            ``{"status": "ok", "account": ..., "region": ..., "now": ...}`` (account, region and time
            only when this client is authorized).

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

    def _auth_token(self) -> str | None:
        if self._token is not None:
            return self._token
        if self._data_dir is not None:
            token = read_token(self._data_dir)
            if token is not None:
                return token
        return _registered(self.endpoint)

    def _headers(self, method: str, path: str, data: bytes | None) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        token = self._auth_token()
        if token is not None:
            headers[TOKEN_HEADER] = token
        elif self._credentials is not None:
            from botocore.auth import SigV4Auth  # noqa: PLC0415 - botocore is slow to import; only this path needs it
            from botocore.awsrequest import AWSRequest  # noqa: PLC0415
            from botocore.credentials import Credentials  # noqa: PLC0415

            aws = AWSRequest(method=method, url=self.endpoint + path, data=data or b"", headers=headers)
            SigV4Auth(Credentials(*self._credentials), "kms", self._region).add_auth(aws)
            headers = {name: str(value) for name, value in aws.headers.items()}
        return headers

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
            self.endpoint + path, data=data, method=method, headers=self._headers(method, path, data)
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
