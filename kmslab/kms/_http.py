"""The HTTP side of the local KMS endpoint: one HTTP/1.1 server, one request handler.

Connections are scheduled by :mod:`kmslab.kms._serving` (an event loop for idle and incomplete
connections, a bounded worker pool for requests, a header deadline, a 503 past the caps).

Private to :mod:`kmslab.kms.server`. The handler only frames requests and responses (request
line, headers, ``Content-Length`` body, keep-alive); what a request means is decided by the
application object the server carries (:class:`kmslab.kms.server.KmsServer` implements it).
Every answer, including answers to requests too broken to parse, is AWS-shaped JSON. A bug that
escapes the application is logged here (:mod:`logging`) and answered 500: the endpoint's one
transport catch-all (operation bugs are caught by :meth:`kmslab.kms.LocalKms.call`).

Why a hand-written HTTP/1.1 parser and not ``h11`` or ``httptools`` (issue 12, evaluated on the shared
2-core machine, parsing one boto3 Encrypt request of 1 KiB, best of 5 x 20,000): this module's fast
lane 5.2 us, ``httptools`` 0.9.0 4.0 us, ``h11`` 0.16.0 41.7 us. The endpoint answers about 1,400
calls/s (~700 us a call) and ``bench/kms_endpoint.py`` puts it at 0.80-0.85x of boto3's ceiling, at
the 0.8x target: ``h11`` would add ~6% per call and miss it; ``httptools`` would save ~0.2%, below
what the noisy machine can show, while its adoption would mean a compiled dependency and
re-pinning every malformed-request answer that ``tests/kms/test_server_fuzz.py`` and
``test_server_connections.py`` hold. So the parser stays. It is over 400 lines because framing
(request line, fields, ``Content-Length``, ``Expect``, keep-alive) and the refusals of each kind
of malformed request belong together.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import ItemsView, Iterator, Mapping
from http import HTTPStatus
from typing import Any, Protocol

from kmslab.kms._protocol import CONTENT_TYPE, error_body
from kmslab.kms._serving import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_WORKERS,
    LINGER_SECONDS,
    ConnectionLoop,
    head_ready,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 300 * 1024
MAX_DISCARD_BYTES = 16 * 1024 * 1024
MAX_LINE_BYTES = 65536
MAX_HEADERS = 100
IDLE_TIMEOUT_SECONDS = 120.0
#: the fast lane takes heads up to this size (bigger ones go through the line-by-line parser)
FAST_HEAD_BYTES = 8192
RECV_BYTES = 65536
_VERSIONS = ("HTTP/1.1", "HTTP/1.0")
# Field names seen before and found well-formed, with their lower-case form (clients repeat theirs).
_FIELD_NAMES: dict[str, str] = {}
MAX_FIELD_NAMES = 512

_REASONS = {status.value: status.phrase for status in HTTPStatus}
_STATUS_LINES = {code: f"HTTP/1.1 {code} {phrase}\r\n" for code, phrase in _REASONS.items()}
_DEFAULT_CONTENT_TYPE = f"Content-Type: {CONTENT_TYPE}\r\n"


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


class HttpServer(socketserver.TCPServer):
    """An HTTP server with a bounded worker pool that tracks connections and in-flight requests for a clean stop.

    Args:
        address: ``(host, port)``; port 0 picks a free port.
        app: the application that answers requests.
        verbose: log one line per request to stderr.
        max_workers: requests answered at once (worker threads); more ready connections wait, up to as
            many again, then get a 503 ThrottlingException.
        header_timeout: seconds a request head may take to arrive.
        max_connections: open connections at most (more get a 503 ThrottlingException).
    """

    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        app: Application,
        *,
        verbose: bool = False,
        max_workers: int = DEFAULT_MAX_WORKERS,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.app = app
        self.verbose = verbose
        self._mutex = threading.Lock()  # never taken twice by one thread; per request, taken directly
        self._lock = threading.Condition(self._mutex)
        self._connections: set[socket.socket] = set()
        self._in_flight = 0
        self._draining = False
        super().__init__(address, socketserver.BaseRequestHandler)  # connections are made by the loop
        self.loop = ConnectionLoop(
            self.socket,
            lambda sock, client: _Handler(sock, client, self),
            max_workers=max_workers,
            header_timeout=header_timeout,
            idle_timeout=lambda: IDLE_TIMEOUT_SECONDS,
            max_connections=max_connections,
            line_limit=MAX_LINE_BYTES,
        )

    def serve_forever(self, poll_interval: float = 0.05) -> None:
        """Accept and answer connections until :meth:`shutdown`.

        Args:
            poll_interval: the longest the loop sleeps between checks, in seconds.
        """
        self.loop.run(poll_interval)

    def shutdown(self) -> None:
        """Stop accepting connections (and wait for the loop to stop); in-flight requests go on."""
        self.loop.stop()

    def server_close(self) -> None:
        """Close the listening socket and every connection still open."""
        loop = getattr(self, "loop", None)  # absent when binding failed
        if loop is not None:
            loop.close_all()
        super().server_close()

    @property
    def body_timeout(self) -> float:
        """Seconds a request body may take to arrive."""
        return min(self.loop.header_timeout, IDLE_TIMEOUT_SECONDS)

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
        with self._mutex:
            if self._draining:
                return False
            self._in_flight += 1
            return True

    def end_request(self) -> None:
        """Count an in-flight request as finished."""
        with self._mutex:
            self._in_flight -= 1
            if self._in_flight == 0 and self._draining:
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
        fields: the header fields, lower-case names (public: the hot path reads it directly).
    """

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields

    def __getitem__(self, name: str) -> str:
        return self.fields[name.lower()]

    def get(self, name: str, default: Any = None) -> Any:
        """Return a header's value, or ``default`` when absent (any case of ``name``).

        Args:
            name: the header name.
            default: what to return when absent.

        Returns:
            The value or ``default``.
        """
        return self.fields.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self.fields

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def items(self) -> ItemsView[str, str]:
        """Return ``(lower-case name, value)`` pairs (a view of the underlying dict: fast to scan).

        Returns:
            The items view.
        """
        return self.fields.items()

    def __len__(self) -> int:
        return len(self.fields)

    def __repr__(self) -> str:
        return f"Headers({sorted(self.fields)})"


class _Reader:
    """A connection's read side: one ``recv_into`` per arrival, into bytes the parser scans directly.

    No ``makefile`` layers: the fast lane of :class:`_Handler` finds a whole request head in ``buf``
    with one ``find``; the general parser reads lines and bodies through :meth:`readline` and :meth:`read`.
    A read the kernel timed out (``SO_RCVTIMEO``) counts as the end of the stream.

    Args:
        sock: the connected socket.
    """

    __slots__ = ("_recv_into", "_view", "buf", "timed_out")

    def __init__(self, sock: socket.socket) -> None:
        self._recv_into = sock.recv_into
        # One reusable receive buffer per connection: a fresh 64 KiB block per recv() would go to
        # (and back from) the C allocator on every request.
        self._view = memoryview(bytearray(RECV_BYTES))
        self.buf = b""
        self.timed_out = False

    def fill(self) -> bool:
        """Append what the socket has next (blocking until something arrives).

        Returns:
            False at the end of the stream (or when the idle timeout fired).
        """
        try:
            size = self._recv_into(self._view)
        except BlockingIOError:  # SO_RCVTIMEO expired
            self.timed_out = True
            return False
        self.timed_out = False
        if not size:
            return False
        chunk = self._view[:size].tobytes()
        self.buf = self.buf + chunk if self.buf else chunk
        return True

    def peek(self) -> bytes:
        """Return the buffered bytes, reading once if there are none.

        Returns:
            The buffer (empty at the end of the stream).
        """
        if not self.buf:
            self.fill()
        return self.buf

    def readline(self, limit: int) -> bytes:
        """Read one line (with its ``\\n``), at most ``limit`` bytes; short at the end of the stream.

        Args:
            limit: the most bytes to return.

        Returns:
            The line.
        """
        searched = 0
        while True:
            buf = self.buf
            index = buf.find(b"\n", searched, limit)
            if index >= 0:
                self.buf = buf[index + 1 :]
                return buf[: index + 1]
            if len(buf) >= limit:
                self.buf = buf[limit:]
                return buf[:limit]
            searched = len(buf)
            if not self.fill():
                self.buf = b""
                return buf

    def read(self, size: int, patience: float = 0.0) -> bytes:
        """Read ``size`` bytes; fewer at the end of the stream.

        Args:
            size: how many bytes.
            patience: seconds to keep waiting through receive timeouts (a slow sender's body).

        Returns:
            The bytes.
        """
        deadline = 0.0
        while len(self.buf) < size:
            if not self.fill():
                if not self.timed_out or not patience:
                    break
                now = time.monotonic()
                deadline = deadline or now + patience
                if now >= deadline:
                    break
        buf = self.buf
        if len(buf) <= size:
            self.buf = b""
            return buf
        self.buf = buf[size:]
        return buf[:size]


class _Handler:
    """Frames one keep-alive connection's requests and writes each answer in a single send.

    Created by the connection loop on accept; :meth:`run` is called on a worker each time the
    connection has a whole request head, and answers until the client pauses.

    A small HTTP/1.1 parser of its own: request line, header fields, ``Content-Length`` bodies.
    The common request (a whole, well-formed head already received, a ``Content-Length`` body)
    takes a fast lane: one scan of the buffer, no per-line reads. Anything else (bare LF line
    ends, stray empty lines, oversized or malformed heads, ``Expect``, chunked bodies, ...) goes
    through the general parser, which answers each problem with an AWS-shaped JSON error.
    """

    server: HttpServer

    close_connection: bool
    method: str
    path: str
    version: str
    headers: Headers
    deadline: float
    head_started: bool
    body_timeout: float

    def __init__(self, conn: socket.socket, client_address: tuple[str, int], server: HttpServer) -> None:
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
        self.reader = _Reader(conn)
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
        plain = _plain_head(buf)
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
        if self.version not in _VERSIONS:
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
            problem = _add_field(fields, line)
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
            problem = _add_field(fields, line.rstrip(b"\r\n").decode("latin-1"))
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


def _plain_head(buf: bytes) -> tuple[int, list[str], dict[str, str], int] | None:
    """Parse a whole, plain request head at the front of ``buf`` (the fast lane's common case).

    Plain: CRLF line ends only, a valid request line, well-formed and unique header fields, at most
    ``MAX_HEADERS`` of them, and a ``Content-Length`` body (or none for a bodiless method) without
    ``Expect`` or ``Transfer-Encoding``. Whatever this accepts, the general parser accepts alike.

    Args:
        buf: the connection's buffered bytes.

    Returns:
        (end of the head, request line parts, lower-case fields, body length), or None.
    """
    end = buf.find(b"\r\n\r\n", 0, FAST_HEAD_BYTES)
    if end < 0:
        return None
    head = buf[: end + 2].decode("latin-1")
    first = head.find("\r\n")
    parts = head[:first].split()
    if len(parts) != 3 or parts[2] not in _VERSIONS:
        return None
    lines = head[first + 2 :].split("\r\n")
    lines.pop()  # the head ends with CRLF: the last item is empty
    if len(lines) > MAX_HEADERS or head.count("\n") != len(lines) + 1:  # too many fields, or a bare LF
        return None
    fields: dict[str, str] = {}
    names = _FIELD_NAMES
    for line in lines:  # the checks of the general parser; any doubt leaves the request to it
        name, colon, value = line.partition(":")
        if not colon:
            return None
        key = names.get(name)
        if key is None:
            if not name or not name.isprintable() or name != name.strip():
                return None
            key = name.lower()
            if len(names) < MAX_FIELD_NAMES:
                names[name] = key
        fields[key] = value.strip()
    if len(fields) != len(lines):  # a repeated field: the general parser joins them
        return None
    if "transfer-encoding" in fields or "expect" in fields:
        return None
    raw_length = fields.get("content-length")
    if raw_length is None:
        return None if parts[0] == "POST" else (end, parts, fields, 0)
    if not (raw_length.isdigit() and raw_length.isascii()) or int(raw_length) > MAX_BODY_BYTES:
        return None
    return end, parts, fields, int(raw_length)


def _add_field(fields: dict[str, str], line: str) -> str | None:
    """Add one header field line to ``fields`` (a repeated field joins the earlier value with ``, ``).

    Args:
        fields: the fields so far, by lower-case name.
        line: the field line, without its line break.

    Returns:
        None, or why the request is refused (400).
    """
    name, colon, value = line.partition(":")
    if not colon or not name or name != name.strip() or not name.isprintable() or "\n" in value:
        return "A header field is malformed."
    key = name.lower()
    value = value.strip()
    if key in fields:
        if key == "content-length":
            return "The request has more than one Content-Length header."
        value = f"{fields[key]}, {value}"
    fields[key] = value
    return None
