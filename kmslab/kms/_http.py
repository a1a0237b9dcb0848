"""The HTTP side of the local KMS endpoint: one threaded HTTP/1.1 server, one request handler.

Private to :mod:`kmslab.kms.server`. The handler only frames requests and responses (request
line, headers, ``Content-Length`` body, keep-alive); what a request means is decided by the
application object the server carries (:class:`kmslab.kms.server.KmsServer` implements it).
Every answer, including answers to requests too broken to parse, is AWS-shaped JSON.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, cast

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_BODY_BYTES = 300 * 1024
MAX_DISCARD_BYTES = 16 * 1024 * 1024
MAX_LINE_BYTES = 65536
IDLE_TIMEOUT_SECONDS = 120.0

_REASONS = {status.value: status.phrase for status in HTTPStatus}


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
    body = json.dumps({"__type": code, "message": message}).encode()
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
            The answer; must not raise.
        """
        ...


class HttpServer(ThreadingHTTPServer):
    """A threaded HTTP server that tracks its connections and in-flight requests for a clean stop.

    Args:
        address: ``(host, port)``; port 0 picks a free port.
        app: the application that answers requests.
        verbose: log one line per request to stderr.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: Application, *, verbose: bool = False) -> None:
        self.app = app
        self.verbose = verbose
        self._lock = threading.Condition()
        self._connections: set[socket.socket] = set()
        self._in_flight = 0
        self._draining = False
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup ``HTTPServer.server_bind`` does (it can stall offline)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def track(self, conn: socket.socket) -> None:
        """Remember an open client connection.

        Args:
            conn: the accepted socket.
        """
        with self._lock:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        """Forget a closed client connection.

        Args:
            conn: the accepted socket.
        """
        with self._lock:
            self._connections.discard(conn)

    def begin_request(self) -> bool:
        """Count a request as in flight.

        Returns:
            False when the server is draining and the request must not start.
        """
        with self._lock:
            if self._draining:
                return False
            self._in_flight += 1
            return True

    def end_request(self) -> None:
        """Count an in-flight request as finished."""
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._lock.notify_all()

    @property
    def draining(self) -> bool:
        """Whether the server is stopping (answers now close their connection)."""
        return self._draining

    def drain(self, timeout: float) -> bool:
        """Refuse new requests, wait for in-flight ones, then close every client connection.

        Call after ``shutdown()`` (which stops accepting connections).

        Args:
            timeout: how long to wait for in-flight requests, in seconds.

        Returns:
            True when every in-flight request finished in time.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            self._draining = True
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._lock.wait(remaining)
            finished = self._in_flight == 0
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        return finished


class _Handler(BaseHTTPRequestHandler):
    """Frames one keep-alive connection's requests and writes each answer in a single send."""

    protocol_version = "HTTP/1.1"
    server_version = "kmslab"
    sys_version = ""
    timeout = IDLE_TIMEOUT_SECONDS
    server: HttpServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(MAX_LINE_BYTES + 1)
        except (TimeoutError, ConnectionError, OSError):
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if len(self.raw_requestline) > MAX_LINE_BYTES:
            self.requestline = ""
            self.request_version = "HTTP/1.1"
            self.command = ""
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG, "The request line is too long.")
            return
        try:
            if not self.parse_request():
                return
        except (TimeoutError, ConnectionError):
            self.close_connection = True
            return
        if not self.server.begin_request():
            self.close_connection = True
            return
        try:
            self._serve()
        except (TimeoutError, ConnectionError):
            self.close_connection = True
        finally:
            self.server.end_request()

    def _serve(self) -> None:
        started = time.perf_counter()
        body, problem = self._read_body()
        if problem is not None:
            self.close_connection = True
            response = problem
        else:
            try:
                response = self.server.app.handle_request(
                    self.command, self.path, cast("Mapping[str, str]", self.headers), body, self.client_address[0]
                )
            except Exception:  # the application must not raise; if it does, say so and stay up
                self._log_exception()
                response = error_response(500, "KMSInternalException", "The local KMS failed to answer this request.")
        if self.server.draining:
            self.close_connection = True
        self._write(response)
        if self.server.verbose:
            elapsed = (time.perf_counter() - started) * 1000
            target = self.headers.get("X-Amz-Target", "-")
            sys.stderr.write(f"{self.command} {self.path} {target} -> {response.status} ({elapsed:.1f} ms)\n")

    def _read_body(self) -> tuple[bytes, Response | None]:
        if self.headers.get("Transfer-Encoding") is not None:
            return b"", error_response(
                400, "SerializationException", "Chunked transfer encoding is not supported; send Content-Length."
            )
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            if self.command == "POST":
                return b"", error_response(400, "SerializationException", "The request has no Content-Length header.")
            return b"", None
        raw_length = raw_length.strip()
        if not raw_length.isdigit() or len(self.headers.get_all("Content-Length") or ()) > 1:
            return b"", error_response(400, "SerializationException", "The Content-Length header is not valid.")
        length = int(raw_length)
        if length > MAX_BODY_BYTES:
            self._discard(length)
            return b"", error_response(
                413, "RequestEntityTooLargeException", f"The request body is larger than {MAX_BODY_BYTES} bytes."
            )
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            return b"", error_response(
                400, "SerializationException", "The request body is shorter than its Content-Length."
            )
        return body, None

    def _discard(self, length: int) -> None:
        """Read and drop a too-large body (up to a bound) so the client can read the 413 answer."""
        remaining = min(length, MAX_DISCARD_BYTES)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                return
            remaining -= len(chunk)

    def _write(self, response: Response) -> None:
        lines = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}"]
        headers: dict[str, Any] = {"Content-Type": JSON_CONTENT_TYPE}
        headers.update(response.headers)
        headers["Content-Length"] = len(response.body)
        if self.close_connection:
            headers["Connection"] = "close"
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + response.body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer a request the HTTP layer could not parse, as AWS-shaped JSON, and close the connection.

        Args:
            code: the status ``http.server`` chose.
            message: its short message.
            explain: its long message (unused).
        """
        self.close_connection = True
        status = code if 400 <= code < 500 else 400
        text = message or _REASONS.get(code, "Bad request")
        with contextlib.suppress(OSError):
            self._write(error_response(status, "SerializationException", f"Malformed HTTP request: {text}"))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        """Stay quiet unless the server is verbose (per-request logging costs throughput).

        Args:
            format: a printf-style format.
            *args: its arguments.
        """
        if self.server.verbose:
            super().log_message(format, *args)

    def _log_exception(self) -> None:
        import traceback

        sys.stderr.write(f"kmslab kms: internal error answering {self.command} {self.path}:\n")
        traceback.print_exc(file=sys.stderr)
