"""The HTTP side of the local KMS endpoint: the request handler, its answers and the application it calls.

Private to :mod:`kmslab.kms.server`. The server is :mod:`kmslab.kms._http_server`, which
:mod:`kmslab.kms._serving` schedules (an event loop for idle and incomplete connections, a bounded
worker pool for requests, a header deadline, a 503 past the caps); reading and parsing request heads
is :mod:`kmslab.kms._http_read`. The handler only frames requests and responses (request
line, headers, ``Content-Length`` body, keep-alive); what a request means is decided by the
application object the server carries (:class:`kmslab.kms.server.KmsServer` implements it).
Every answer, including answers to requests too broken to parse, is AWS-shaped JSON. A bug that
escapes the application is logged here (:mod:`logging`) and answered 500: the endpoint's one
transport catch-all (operation bugs are caught by :meth:`kmslab.kms.LocalKms.call`).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import sys
import time
from http import HTTPStatus

from kmslab.kms._http_read import (
    FAST_HEAD_BYTES,
    MAX_BODY_BYTES,
    MAX_HEADERS,
    MAX_LINE_BYTES,
    VERSIONS,
    Headers,
    Reader,
    add_field,
    plain_head,
)
from kmslab.kms._http_types import Response, Server, error_response
from kmslab.kms._protocol import CONTENT_TYPE
from kmslab.kms._serving import LINGER_SECONDS, head_ready

log = logging.getLogger(__name__)

MAX_DISCARD_BYTES = 16 * 1024 * 1024
IDLE_TIMEOUT_SECONDS = 120.0

_REASONS = {status.value: status.phrase for status in HTTPStatus}
_STATUS_LINES = {code: f"HTTP/1.1 {code} {phrase}\r\n" for code, phrase in _REASONS.items()}
_DEFAULT_CONTENT_TYPE = f"Content-Type: {CONTENT_TYPE}\r\n"


class Handler:
    """Frames one keep-alive connection's requests and writes each answer in a single send.

    Created by the connection loop on accept; :meth:`run` is called on a worker each time the
    connection has a whole request head, and answers until the client pauses.

    A small HTTP/1.1 parser of its own: request line, header fields, ``Content-Length`` bodies.
    The common request (a whole, well-formed head already received, a ``Content-Length`` body)
    takes a fast lane: one scan of the buffer, no per-line reads. Anything else (bare LF line
    ends, stray empty lines, oversized or malformed heads, ``Expect``, chunked bodies, ...) goes
    through the general parser, which answers each problem with an AWS-shaped JSON error.
    """

    server: Server

    close_connection: bool
    method: str
    path: str
    version: str
    headers: Headers
    deadline: float
    head_started: bool
    body_timeout: float

    def __init__(self, conn: socket.socket, client_address: tuple[str, int], server: Server) -> None:
        self.connection = conn
        self.client_address = client_address
        self.server = server
        self.deadline = 0.0
        self.head_started = False
        self._closed = False
        # A Python-level socket timeout makes every recv and send a poll() plus the call; a kernel
        # timeout (SO_RCVTIMEO / SO_SNDTIMEO) bounds waits at no such cost. When it fires, reads
        # come back short and sends raise OSError. The receive timeout is the linger: how long a
        # worker waits for a keep-alive client's next request before giving the connection back.
        self.body_timeout = server.body_timeout
        linger = min(LINGER_SECONDS, self.body_timeout)
        receive = struct.pack("ll", int(linger), int(linger % 1 * 1_000_000))
        send = struct.pack("ll", int(IDLE_TIMEOUT_SECONDS), 0)
        with contextlib.suppress(OSError):
            # TCP_NODELAY: Nagle + delayed ACK would stall keep-alive answers
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, receive)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, send)
        self.reader = Reader(conn)
        self._send = conn.sendall
        self.method, self.path, self.version, self.headers = "", "", "HTTP/1.1", Headers({})
        server.track(conn)

    @property
    def buffered(self) -> bytes:
        """The bytes received and not yet parsed."""
        return self.reader.buf

    @buffered.setter
    def buffered(self, value: bytes) -> None:
        self.reader.buf = value

    def close(self) -> None:
        """Close the connection (once) and forget it."""
        if self._closed:
            return
        self._closed = True
        self.server.untrack(self.connection)
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
        self.connection.close()

    def run(self) -> bool:
        """Answer requests while whole heads are at hand or arrive promptly.

        Returns:
            True to give the connection back to the loop (the client paused, or its next head is
            incomplete), False to close it.
        """
        self.close_connection = False
        reader = self.reader
        limit = MAX_LINE_BYTES
        while not self.close_connection:
            try:
                if reader.buf and self._handle_fast():  # the common case: a whole, plain head
                    continue
                if head_ready(reader.buf, limit):
                    self._handle_one()
                elif not reader.fill():
                    return reader.timed_out and not self.server.draining
            except OSError:  # resets, a stop that shut the socket down
                self.close_connection = True
        return False

    def _handle_fast(self) -> bool:
        """Serve the request at the front of the buffer if its head is whole and plain.

        Consumes nothing and returns False when the general parser must take the request
        (the head is incomplete or unusual in any way); it then sees the same bytes.
        """
        reader = self.reader
        buf = reader.buf
        plain = plain_head(buf)
        if plain is None:
            return False
        end, parts, fields, length = plain
        # From here on the request is this lane's: consume its head.
        reader.buf = buf[end + 4 :]
        self.method, self.path, version = parts
        self.version = version
        headers = self.headers = Headers(fields)
        connection = fields.get("connection")
        if version == "HTTP/1.1":
            self.close_connection = connection is not None and "close" in connection.lower()
        else:
            self.close_connection = connection is None or "keep-alive" not in connection.lower()
        if not self.server.begin_request():
            self.close_connection = True
            return True
        started = time.perf_counter() if self.server.verbose else 0.0
        try:
            body = reader.read(length, self.body_timeout) if length else b""
            if len(body) != length:
                self.close_connection = True
                problem = error_response(
                    400, "SerializationException", "The request body is shorter than its Content-Length."
                )
                self._answer(problem, started)
            else:
                self._answer(self._call_app(headers, body), started)
        finally:
            self.server.end_request()
        return True

    def _handle_one(self) -> None:
        line = self.reader.readline(MAX_LINE_BYTES + 1)
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
        if self.version not in VERSIONS:
            self._refuse(400, f"HTTP version {self.version[:20]!r} is not supported.")
            return
        headers = self._read_headers()
        if headers is None:
            return
        self.headers = headers
        connection = headers.fields.get("connection", "").lower()
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
        # The whole header block is usually in the buffer already; take it in one read.
        peeked = self.reader.peek()[:FAST_HEAD_BYTES]
        if peeked.startswith(b"\r\n"):
            self.reader.read(2)
            return Headers({})
        end = peeked.find(b"\r\n\r\n")
        if end == -1:
            return self._read_header_lines()
        # One decode for the whole block, then the same check per field as a line-by-line read.
        lines = self.reader.read(end + 4)[:end].decode("latin-1").split("\r\n")
        if len(lines) > MAX_HEADERS:
            self._refuse(431, f"The request has more than {MAX_HEADERS} header fields.")
            return None
        fields: dict[str, str] = {}
        for line in lines:
            problem = add_field(fields, line)
            if problem is not None:
                self._refuse(400, problem)
                return None
        return Headers(fields)

    def _read_header_lines(self) -> Headers | None:
        fields: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            line = self.reader.readline(MAX_LINE_BYTES + 1)
            if len(line) > MAX_LINE_BYTES:
                self._refuse(431, "A header field is too long.")
                return None
            if line in (b"\r\n", b"\n"):
                return Headers(fields)
            if not line:
                self._refuse(400, "The request ended inside its header fields.")
                return None
            problem = add_field(fields, line.rstrip(b"\r\n").decode("latin-1"))
            if problem is not None:
                self._refuse(400, problem)
                return None
        self._refuse(431, f"The request has more than {MAX_HEADERS} header fields.")
        return None

    def _serve(self) -> None:
        started = time.perf_counter() if self.server.verbose else 0.0
        body, problem = self._read_body()
        if problem is not None:
            self.close_connection = True
            self._answer(problem, started)
        else:
            self._answer(self._call_app(self.headers, body), started)

    def _call_app(self, headers: Headers, body: bytes) -> Response:
        try:
            return self.server.app.handle_request(self.method, self.path, headers, body, self.client_address[0])
        except Exception:  # the application must not raise; if it does, say so and stay up
            self._log_exception()
            return error_response(500, "KMSInternalException", "The local KMS failed to answer this request.")

    def _answer(self, response: Response, started: float = 0.0) -> None:
        if self.server.draining:
            self.close_connection = True
        self._write(response)
        if self.server.verbose:
            elapsed = (time.perf_counter() - started) * 1000 if started else 0.0
            target = self.headers.get("X-Amz-Target", "-")
            sys.stderr.write(f"{self.method} {self.path} {target} -> {response.status} ({elapsed:.1f} ms)\n")

    def _read_body(self) -> tuple[bytes, Response | None]:
        fields = self.headers.fields
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
            self._send(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self.reader.read(length, self.body_timeout) if length else b""
        if len(body) != length:
            return b"", error_response(
                400, "SerializationException", "The request body is shorter than its Content-Length."
            )
        return body, None

    def _discard(self, length: int) -> None:
        """Read and drop a too-large body (up to a bound) so the client can read the 413 answer."""
        remaining = min(length, MAX_DISCARD_BYTES)
        while remaining > 0:
            chunk = self.reader.read(min(remaining, 65536))
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
        self._send((head + "\r\n").encode("latin-1") + response.body)

    def _refuse(self, status: int, message: str) -> None:
        """Answer a request too broken to frame, as AWS-shaped JSON, and close the connection."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self._write(error_response(status, "SerializationException", f"Malformed HTTP request: {message}"))

    def _log_exception(self) -> None:
        log.exception("internal error answering %s %s", self.method, self.path[:200])
