"""The HTTP side of the local KMS endpoint: one threaded HTTP/1.1 server, one request handler.

Private to :mod:`kmslab.kms.server`. The handler only frames requests and responses (request
line, headers, ``Content-Length`` body, keep-alive); what a request means is decided by the
application object the server carries (:class:`kmslab.kms.server.KmsServer` implements it).
Every answer, including answers to requests too broken to parse, is AWS-shaped JSON.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
from collections.abc import ItemsView, Iterator, Mapping
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import Any, Protocol, cast

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_BODY_BYTES = 300 * 1024
MAX_DISCARD_BYTES = 16 * 1024 * 1024
MAX_LINE_BYTES = 65536
MAX_HEADERS = 100
IDLE_TIMEOUT_SECONDS = 120.0

_REASONS = {status.value: status.phrase for status in HTTPStatus}
_STATUS_LINES = {code: f"HTTP/1.1 {code} {phrase}\r\n" for code, phrase in _REASONS.items()}
_DEFAULT_CONTENT_TYPE = f"Content-Type: {JSON_CONTENT_TYPE}\r\n"


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
        self._lock = threading.Condition(threading.Lock())  # never taken twice by one thread
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


class Headers(Mapping[str, str]):
    """Request headers: names kept lower-case, looked up case-insensitively; repeats joined with ``,``.

    Args:
        fields: the header fields, lower-case names.
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, str]) -> None:
        self._fields = fields

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()]

    def get(self, name: str, default: Any = None) -> Any:
        """Return a header's value, or ``default`` when absent (any case of ``name``).

        Args:
            name: the header name.
            default: what to return when absent.

        Returns:
            The value or ``default``.
        """
        return self._fields.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def items(self) -> ItemsView[str, str]:
        """Return ``(lower-case name, value)`` pairs (a view of the underlying dict: fast to scan).

        Returns:
            The items view.
        """
        return self._fields.items()

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"Headers({sorted(self._fields)})"


class _Handler(socketserver.StreamRequestHandler):
    """Frames one keep-alive connection's requests and writes each answer in a single send.

    A small HTTP/1.1 parser of its own: request line, header fields, ``Content-Length`` bodies.
    It costs a fraction of ``http.server``'s email-based header parsing, which matters at
    thousands of requests per second.
    """

    timeout = None  # see setup(): the kernel times idle reads out, so Python need not poll() before each call
    disable_nagle_algorithm = True  # TCP_NODELAY: Nagle + delayed ACK would stall keep-alive answers
    server: HttpServer

    close_connection: bool
    method: str
    path: str
    version: str
    headers: Headers

    def setup(self) -> None:
        super().setup()
        # A Python-level socket timeout makes every recv and send a poll() plus the call; a kernel
        # timeout (SO_RCVTIMEO / SO_SNDTIMEO) bounds idle and stalled connections at no such cost.
        # When it fires, reads come back short (treated as a closed connection) and sends raise OSError.
        limit = struct.pack("ll", int(IDLE_TIMEOUT_SECONDS), 0)
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            with contextlib.suppress(OSError):
                super().finish()
        finally:
            self.server.untrack(self.connection)

    def handle(self) -> None:
        self.close_connection = False
        self.method, self.path, self.version, self.headers = "", "", "HTTP/1.1", Headers({})
        while not self.close_connection:
            try:
                self._handle_one()
            except OSError:  # timeouts, resets, a stop that shut the socket down
                self.close_connection = True

    def _handle_one(self) -> None:
        line = self.rfile.readline(MAX_LINE_BYTES + 1)
        if not line:
            self.close_connection = True
            return
        if line in (b"\r\n", b"\n"):  # a stray empty line between requests is allowed (RFC 9112 2.2)
            return
        if len(line) > MAX_LINE_BYTES:
            self._refuse(414, "The request line is too long.")
            return
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            self._refuse(400, "The request line is not 'METHOD /path HTTP/1.1'.")
            return
        self.method, self.path, self.version = parts
        if self.version not in ("HTTP/1.1", "HTTP/1.0"):
            self._refuse(400, f"HTTP version {self.version[:20]!r} is not supported.")
            return
        headers = self._read_headers()
        if headers is None:
            return
        self.headers = headers
        connection = headers._fields.get("connection", "").lower()
        if self.version == "HTTP/1.1":
            self.close_connection = "close" in connection
        else:
            self.close_connection = "keep-alive" not in connection
        if not self.server.begin_request():
            self.close_connection = True
            return
        try:
            self._serve()
        finally:
            self.server.end_request()

    def _read_headers(self) -> Headers | None:
        # Fast path: the whole header block is usually in the read buffer already; take it in one read.
        peeked = cast("io.BufferedReader", self.rfile).peek(1)
        if peeked.startswith(b"\r\n"):
            self.rfile.read(2)
            return Headers({})
        end = peeked.find(b"\r\n\r\n")
        if end == -1:
            return self._read_header_lines()
        # One decode for the whole block; the checks per field are those of _add_field, inlined.
        lines = self.rfile.read(end + 4)[:end].decode("latin-1").split("\r\n")
        if len(lines) > MAX_HEADERS:
            self._refuse(431, f"The request has more than {MAX_HEADERS} header fields.")
            return None
        fields: dict[str, str] = {}
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip() or not name.isprintable() or "\n" in value:
                self._refuse(400, "A header field is malformed.")
                return None
            key = name.lower()
            value = value.strip()
            if key in fields:
                if key == "content-length":
                    self._refuse(400, "The request has more than one Content-Length header.")
                    return None
                value = f"{fields[key]}, {value}"
            fields[key] = value
        return Headers(fields)

    def _read_header_lines(self) -> Headers | None:
        fields: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            line = self.rfile.readline(MAX_LINE_BYTES + 1)
            if len(line) > MAX_LINE_BYTES:
                self._refuse(431, "A header field is too long.")
                return None
            if line in (b"\r\n", b"\n"):
                return Headers(fields)
            if not line:
                self._refuse(400, "The request ended inside its header fields.")
                return None
            if not self._add_field(fields, line.rstrip(b"\r\n")):
                return None
        self._refuse(431, f"The request has more than {MAX_HEADERS} header fields.")
        return None

    def _add_field(self, fields: dict[str, str], line: bytes) -> bool:
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name or name != name.strip() or not name.isprintable() or "\n" in value:
            self._refuse(400, "A header field is malformed.")
            return False
        key = name.lower()
        value = value.strip()
        if key in fields:
            if key == "content-length":
                self._refuse(400, "The request has more than one Content-Length header.")
                return False
            value = f"{fields[key]}, {value}"
        fields[key] = value
        return True

    def _serve(self) -> None:
        verbose = self.server.verbose
        started = time.perf_counter() if verbose else 0.0
        body, problem = self._read_body()
        if problem is not None:
            self.close_connection = True
            response = problem
        else:
            try:
                response = self.server.app.handle_request(
                    self.method, self.path, self.headers, body, self.client_address[0]
                )
            except Exception:  # the application must not raise; if it does, say so and stay up
                self._log_exception()
                response = error_response(500, "KMSInternalException", "The local KMS failed to answer this request.")
        if self.server.draining:
            self.close_connection = True
        self._write(response)
        if verbose:
            elapsed = (time.perf_counter() - started) * 1000
            target = self.headers.get("X-Amz-Target", "-")
            sys.stderr.write(f"{self.method} {self.path} {target} -> {response.status} ({elapsed:.1f} ms)\n")

    def _read_body(self) -> tuple[bytes, Response | None]:
        fields = self.headers._fields
        if "transfer-encoding" in fields:
            return b"", error_response(
                400, "SerializationException", "Chunked transfer encoding is not supported; send Content-Length."
            )
        raw_length = fields.get("content-length")
        if raw_length is None:
            if self.method == "POST":
                return b"", error_response(400, "SerializationException", "The request has no Content-Length header.")
            return b"", None
        if not (raw_length.isascii() and raw_length.isdigit()):
            return b"", error_response(400, "SerializationException", "The Content-Length header is not valid.")
        length = int(raw_length)
        if length > MAX_BODY_BYTES:
            self._discard(length)
            return b"", error_response(
                413, "RequestEntityTooLargeException", f"The request body is larger than {MAX_BODY_BYTES} bytes."
            )
        if length and self.version == "HTTP/1.1" and fields.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
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
        headers = response.headers
        status = response.status
        head = _STATUS_LINES.get(status) or f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
        if "Content-Type" not in headers:
            head += _DEFAULT_CONTENT_TYPE
        for name, value in headers.items():
            if name != "Content-Length":
                head += f"{name}: {value}\r\n"
        head += f"Content-Length: {len(response.body)}\r\n"
        if self.close_connection:
            head += "Connection: close\r\n"
        self.wfile.write((head + "\r\n").encode("latin-1") + response.body)

    def _refuse(self, status: int, message: str) -> None:
        """Answer a request too broken to frame, as AWS-shaped JSON, and close the connection."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self._write(error_response(status, "SerializationException", f"Malformed HTTP request: {message}"))

    def _log_exception(self) -> None:
        sys.stderr.write(f"kmslab kms: internal error answering {self.method} {self.path[:200]}:\n")
        traceback.print_exc(file=sys.stderr)
