"""The local cloud's HTTP(S) server: a threaded HTTP/1.1 server with keep-alive around the gateway (WSGI).

Why not werkzeug's development server: it closes every connection (so every request pays a TCP
and TLS handshake) and, after each request, reads whatever the client sent next to discard it,
which swallows a pipelined or quick next request. Here each connection gets a thread; the TLS
handshake runs on that thread (a slow client never blocks ``accept``); a request body is read
through a reader bounded by ``Content-Length`` (or a chunked decoder); when the application used
the body up and the client did not ask to close, the connection stays open for the next request.
"""

from __future__ import annotations

import contextlib
import io
import socket
import ssl
import sys
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_LINE = 65537


class _Body(io.RawIOBase):
    """The request body with its declared length: reads stop at the end, and it knows when it is used up."""

    def __init__(self, raw: Any, length: int) -> None:
        super().__init__()
        self._raw = raw
        self.remaining = length

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data: bytes = self._raw.read(size)
        self.remaining -= len(data)
        if not data:
            self.remaining = -1  # the client went away: never reuse this connection
        return data

    def readline(self, size: int | None = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data: bytes = self._raw.readline(size)
        self.remaining -= len(data)
        return data

    @property
    def done(self) -> bool:
        return self.remaining == 0


class _Chunked(io.RawIOBase):
    """An HTTP/1.1 ``Transfer-Encoding: chunked`` request body, decoded."""

    def __init__(self, raw: Any) -> None:
        super().__init__()
        self._raw = raw
        self._left = 0
        self.done = False
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bool:
        line = self._raw.readline(MAX_LINE)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise OSError("malformed chunked body") from None
        if size == 0:
            while self._raw.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
                pass
            self.done = True
            return False
        self._left = size
        return True

    def read(self, size: int | None = -1) -> bytes:
        out = bytearray()
        want = sys.maxsize if size is None or size < 0 else size
        while len(out) < want and not self.done:
            if self._left == 0 and not self._next_chunk():
                break
            piece = self._raw.read(min(self._left, want - len(out)))
            if not piece:
                raise OSError("the client closed the connection mid-body")
            out += piece
            self._left -= len(piece)
            if self._left == 0:
                self._raw.readline(MAX_LINE)
        return bytes(out)

    def readline(self, size: int | None = -1) -> bytes:
        out = bytearray()
        limit = sys.maxsize if size is None or size < 0 else size
        while len(out) < limit:
            byte = self.read(1)
            if not byte:
                break
            out += byte
            if byte == b"\n":
                break
        return bytes(out)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.1"  # answer even a broken request line with a status line
    timeout = 120
    server: _Server

    def setup(self) -> None:
        context = self.server.ssl_context
        if context is not None:
            self.request.settimeout(30)
            self.request = context.wrap_socket(self.request, server_side=True)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(MAX_LINE)
        except (OSError, ssl.SSLError):
            self.close_connection = True
            return
        if len(self.raw_requestline) >= MAX_LINE:
            self.requestline, self.request_version, self.command = "", "HTTP/1.1", ""
            self.send_error(414, "Request-URI Too Long")
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():
            return
        self._run()
        with contextlib.suppress(OSError):
            self.wfile.flush()

    def _environ(self, body: Any) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": _latin1_path(path),
            "QUERY_STRING": query,
            "RAW_URI": self.path,
            "REQUEST_URI": self.path,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if self.server.ssl_context is not None else "http",
            "wsgi.input": body,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if "_" in name:  # WSGI cannot tell X_Foo from X-Foo: drop the underscored spelling
                continue
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key == "CONTENT_LENGTH":
                environ["CONTENT_LENGTH"] = value
            else:
                key = "HTTP_" + key
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _body(self) -> _Body | _Chunked | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return _Chunked(self.rfile)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(400, "Bad Content-Length")
            self.close_connection = True
            return None
        return _Body(self.rfile, length)

    def _run(self) -> None:
        body = self._body()
        if body is None:
            return
        environ = self._environ(body)
        if isinstance(body, _Chunked):
            environ["wsgi.input_terminated"] = True
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return lambda data: None

        result: Iterable[bytes] = self.server.app(environ, start_response)
        try:
            chunks = iter(result)
            first = next(chunks, b"")
            if isinstance(body, _Chunked) and not body.done:
                body.read(65536)  # the application read its content; this reaches the final empty chunk
            keep = self._head(started[0], started[1], body.done)
            if self.command != "HEAD":
                if first:
                    self.wfile.write(first)
                for chunk in chunks:
                    self.wfile.write(chunk)
            self.close_connection = not keep
        except (OSError, ssl.SSLError):
            self.close_connection = True
        except Exception:  # a failure mid-stream (e.g. a stored object failed its check): drop the connection
            self.close_connection = True
            if self.server.verbose:
                import traceback

                traceback.print_exc()
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _head(self, status: str, headers: list[tuple[str, str]], body_done: bool) -> bool:
        """Send the status line and headers; tell whether the connection can stay open."""
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        has_length = closing = False
        for name, value in headers:
            lowered = name.lower()
            has_length = has_length or lowered == "content-length"
            if lowered == "connection" and value.lower() == "close":
                closing = True
                continue
            self.send_header(name, value)
        keep = has_length and not closing and body_done and not self.close_connection
        self.send_header("Connection", "keep-alive" if keep else "close")
        self.end_headers()
        return keep

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer a request too broken to route with an AWS-shaped JSON error (never an HTML page)."""
        import json

        body = json.dumps(
            {"__type": "BadRequest" if code < 500 else "InternalFailure", "message": message or "Bad request"}
        )
        raw = body.encode()
        self.close_connection = True
        try:
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(raw)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if self.server.verbose:
            super().log_message(format, *args)


def _latin1_path(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path, encoding="latin-1")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: Any, ssl_context: ssl.SSLContext | None, verbose: bool) -> None:
        self.app = app
        self.ssl_context = ssl_context
        self.verbose = verbose
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    connections = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


class CloudServer:
    """Serve a WSGI application on a background thread.

    Args:
        app: the gateway.
        host: the address.
        port: the port (0 picks a free one).
        ssl_context: TLS context; None serves plain HTTP.
        verbose: log one line per request.

    Raises:
        OSError: the address cannot be bound.
    """

    def __init__(
        self, app: Any, *, host: str, port: int, ssl_context: ssl.SSLContext | None, verbose: bool = False
    ) -> None:
        self._server = _Server((host, port), app, ssl_context, verbose)
        self.tls = ssl_context is not None
        self._thread: threading.Thread | None = None

    @property
    def connections(self) -> int:
        """How many connections the server accepted so far."""
        return self._server.connections

    @property
    def host(self) -> str:
        """The listening address."""
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The real port."""
        return int(self._server.server_address[1])

    def url(self, host: str | None = None) -> str:
        """The endpoint URL.

        Args:
            host: the host name to put in it (default ``localhost`` for loopback, else the address).

        Returns:
            ``https://localhost:4566`` or similar.
        """
        name = host or ("localhost" if self.host in ("127.0.0.1", "::1", "localhost") else self.host)
        if ":" in name:
            name = f"[{name}]"
        return f"{'https' if self.tls else 'http'}://{name}:{self.port}"

    def start(self) -> CloudServer:
        """Serve on a daemon thread.

        Returns:
            The server.
        """
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="kmslab-local", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()
