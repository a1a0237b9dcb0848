"""The local KMS endpoint's HTTP/1.1 server: connections, in-flight requests, a clean stop.

Private to :mod:`kmslab.kms.server`. Connections are scheduled by :mod:`kmslab.kms._serving` (an
event loop for idle and incomplete connections, a bounded worker pool for requests); each one is
framed by :class:`kmslab.kms._http.Handler`.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time

from kmslab.kms import _http
from kmslab.kms._http import Handler
from kmslab.kms._http_read import MAX_LINE_BYTES
from kmslab.kms._http_types import Application
from kmslab.kms._serving import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_WORKERS,
    ConnectionLoop,
)


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
            lambda sock, client: Handler(sock, client, self),
            max_workers=max_workers,
            header_timeout=header_timeout,
            idle_timeout=lambda: _http.IDLE_TIMEOUT_SECONDS,
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
        return min(self.loop.header_timeout, _http.IDLE_TIMEOUT_SECONDS)

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
