"""What the local KMS endpoint's HTTP layer and its users share: answers, the application, the server's side.

Private to :mod:`kmslab.kms`: :mod:`kmslab.kms._http` frames requests, :mod:`kmslab.kms._http_server`
serves connections, and :mod:`kmslab.kms.server` is the application that answers.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Protocol

from kmslab.kms._protocol import error_body


class Response:
    """One HTTP answer: status, body bytes and extra headers.

    Args:
        status: the HTTP status code.
        body: the response body (JSON text).
        headers: extra headers (``Content-Type`` defaults to the AWS JSON 1.1 type).
    """

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, *, request_id: str | None = None) -> Response:
    """Build an AWS-shaped JSON error answer.

    Args:
        status: the HTTP status code.
        code: the AWS error code (``__type``).
        message: the error message.
        request_id: the request ID to return in ``x-amzn-RequestId``, if any.

    Returns:
        The response.
    """
    body = error_body(code, message)
    headers = {"x-amzn-RequestId": request_id} if request_id else {}
    return Response(status, body, headers)


class Application(Protocol):
    """What the HTTP layer hands each complete request to."""

    def handle_request(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, source_ip: str
    ) -> Response:
        """Answer one request.

        Args:
            method: the HTTP method.
            path: the request target (path and query).
            headers: the request headers (case-insensitive lookup).
            body: the request body.
            source_ip: the client address.

        Returns:
            The answer; a bug that raises is logged and answered 500 by the HTTP layer.
        """
        ...


class Server(Protocol):
    """What a connection's handler needs of its server (:class:`kmslab.kms._http_server.HttpServer`)."""

    app: Application
    verbose: bool

    @property
    def draining(self) -> bool:
        """Whether the server is stopping."""
        ...

    @property
    def body_timeout(self) -> float:
        """Seconds a request body may take to arrive."""
        ...

    def track(self, conn: socket.socket) -> None:
        """Remember an open connection."""
        ...

    def untrack(self, conn: socket.socket) -> None:
        """Forget a closed connection."""
        ...

    def begin_request(self) -> bool:
        """Count a request as in flight (False: the server is draining)."""
        ...

    def end_request(self) -> None:
        """Count an in-flight request as finished."""
        ...
