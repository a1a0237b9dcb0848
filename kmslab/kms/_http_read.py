"""Reading HTTP/1.1 requests off a socket for the local KMS endpoint: the buffer, the head parsers, the headers.

Private to :mod:`kmslab.kms._http`, whose handler frames requests with these: :class:`Reader` is a
connection's read side, :func:`plain_head` the fast lane's parser of a whole plain request head,
:func:`add_field` the general parser's step for one header field line, and :class:`Headers` what
either hands to the application.

Why a hand-written HTTP/1.1 parser and not ``h11`` or ``httptools`` (issue 12, evaluated on the shared
2-core machine, parsing one boto3 Encrypt request of 1 KiB, best of 5 x 20,000): this module's fast
lane 5.2 us, ``httptools`` 0.9.0 4.0 us, ``h11`` 0.16.0 41.7 us. The endpoint answers about 1,400
calls/s (~700 us a call) and ``bench/kms_endpoint.py`` puts it at 0.80-0.85x of boto3's ceiling, at
the 0.8x target: ``h11`` would add ~6% per call and miss it; ``httptools`` would save ~0.2%, below
what the noisy machine can show, while its adoption would mean a compiled dependency and
re-pinning every malformed-request answer that ``tests/kms/test_server_fuzz.py`` and
``test_server_connections.py`` hold. So the parser stays.
"""

from __future__ import annotations

import socket
import time
from collections.abc import ItemsView, Iterator, Mapping
from typing import Any

MAX_BODY_BYTES = 300 * 1024
MAX_LINE_BYTES = 65536
MAX_HEADERS = 100
#: the fast lane takes heads up to this size (bigger ones go through the line-by-line parser)
FAST_HEAD_BYTES = 8192
RECV_BYTES = 65536
VERSIONS = ("HTTP/1.1", "HTTP/1.0")
# Field names seen before and found well-formed, with their lower-case form (clients repeat theirs).
_FIELD_NAMES: dict[str, str] = {}
MAX_FIELD_NAMES = 512


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


class Reader:
    """A connection's read side: one ``recv_into`` per arrival, into bytes the parser scans directly.

    No ``makefile`` layers: the fast lane of :class:`kmslab.kms._http.Handler` finds a whole request head in ``buf``
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


def plain_head(buf: bytes) -> tuple[int, list[str], dict[str, str], int] | None:
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
    if len(parts) != 3 or parts[2] not in VERSIONS:
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


def add_field(fields: dict[str, str], line: str) -> str | None:
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
