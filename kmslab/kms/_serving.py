"""Connection scheduling for the local KMS endpoint: one event loop, a bounded pool of workers.

Private to :mod:`kmslab.kms._http`. Idle connections cost a file descriptor, not a thread:

* one loop thread accepts connections and watches every connection that has no complete request
  head yet (new ones, keep-alive ones between requests, slow senders), reading what arrives;
* a connection whose head is complete goes to a worker from a pool of at most ``max_workers``
  threads; the worker answers it, keeps answering while the client sends its next request
  promptly (a short linger, so a keep-alive client pays no hand-off), then gives it back;
* a head must arrive within ``header_timeout`` of its first byte (a new connection: of being
  accepted), an idle keep-alive connection is closed after the idle timeout;
* past the caps (all workers busy and as many connections waiting, or ``max_connections`` open)
  a connection gets a 503 ``ThrottlingException`` JSON answer and is closed.

So a few hundred silent or trickling sockets (slowloris) neither take threads nor keep a real
client waiting.
"""

from __future__ import annotations

import collections
import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

from kmslab.kms._protocol import CONTENT_TYPE, error_body

#: workers answering requests at once (threads); each handles one connection at a time
DEFAULT_MAX_WORKERS = 64
#: seconds a request head may take to arrive (from its first byte, or from the connection's start)
DEFAULT_HEADER_TIMEOUT = 10.0
#: open connections at most (each costs a file descriptor)
DEFAULT_MAX_CONNECTIONS = 512
#: seconds a worker waits for a keep-alive client's next request before giving the connection back
LINGER_SECONDS = 0.5
_SWEEP_SECONDS = 0.1
_ACCEPT_BATCH = 64
THROTTLED = (
    f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: {CONTENT_TYPE}\r\nConnection: close\r\n".encode()
    + b"Content-Length: %d\r\n\r\n%s"
)
_THROTTLED_BODY = error_body("ThrottlingException", "The local KMS is busy (too many connections); retry later.")
THROTTLED_ANSWER = THROTTLED % (len(_THROTTLED_BODY), _THROTTLED_BODY)


def head_ready(buf: bytes, limit: int) -> bool:
    """Whether ``buf`` holds a whole request head (or more than a parser would take without one).

    Args:
        buf: the connection's buffered bytes.
        limit: the longest line the parser accepts; a longer run without an end is given to the
            parser too, which refuses it.

    Returns:
        True when a worker can parse the head without waiting for the network.
    """
    return b"\n\r\n" in buf or b"\n\n" in buf or len(buf) > limit


class Connection(Protocol):
    """What the loop needs from a connection (the HTTP layer's handler)."""

    connection: socket.socket
    buffered: bytes
    deadline: float
    head_started: bool

    def run(self) -> bool:
        """Answer requests on a worker; True gives the connection back to the loop, False closes it."""
        ...

    def close(self) -> None:
        """Close the connection and forget it."""
        ...


class ConnectionLoop:
    """The accept/watch loop and the worker pool of one listening socket.

    Args:
        listener: the bound, listening socket.
        make: wraps an accepted socket and client address into a Connection.
        max_workers: the worker pool's size.
        header_timeout: seconds a request head may take.
        idle_timeout: returns the seconds an idle keep-alive connection is kept (read at each use).
        max_connections: open connections at most.
        line_limit: the longest request line the parser accepts.
    """

    def __init__(
        self,
        listener: socket.socket,
        make: Callable[[socket.socket, tuple[str, int]], Connection],
        *,
        max_workers: int,
        header_timeout: float,
        idle_timeout: Callable[[], float],
        max_connections: int,
        line_limit: int,
    ) -> None:
        if max_workers < 1 or max_connections < 1 or header_timeout <= 0:
            raise ValueError("max_workers, max_connections and header_timeout must be positive")
        self._listener = listener
        self._make = make
        self.max_workers = max_workers
        self.header_timeout = header_timeout
        self._idle_timeout = idle_timeout
        self.max_connections = max_connections
        self._line_limit = line_limit
        self._cond = threading.Condition(threading.Lock())
        self._ready: collections.deque[Connection] = collections.deque()
        self._returned: collections.deque[Connection] = collections.deque()
        self._workers: list[threading.Thread] = []
        self._idle_workers = 0
        self._stopping = False
        self._open = 0
        self._watched: dict[socket.socket, Connection] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = threading.Event()
        self._done = threading.Event()
        self._done.set()

    @property
    def worker_count(self) -> int:
        """Worker threads started so far (never more than ``max_workers``)."""
        return len(self._workers)

    # -- the loop thread ------------------------------------------------------------------------

    def run(self, poll_interval: float = 0.05) -> None:
        """Accept and watch connections until :meth:`stop`.

        Args:
            poll_interval: the longest the loop sleeps between checks.
        """
        self._done.clear()
        self._stop.clear()
        selector = selectors.DefaultSelector()
        self._listener.setblocking(False)
        selector.register(self._listener, selectors.EVENT_READ, "accept")
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        next_sweep = time.monotonic() + _SWEEP_SECONDS
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(poll_interval):
                    if key.data == "accept":
                        self._accept(selector)
                    elif key.data == "wake":
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    else:
                        self._on_readable(selector, key.fileobj)  # type: ignore[arg-type]
                while self._returned:
                    self._watch(selector, self._returned.popleft())
                now = time.monotonic()
                if now >= next_sweep:
                    next_sweep = now + _SWEEP_SECONDS
                    self._expire(selector, now)
        finally:
            selector.close()
            self._done.set()

    def stop(self) -> None:
        """Stop the loop (it stops accepting; connections stay open until :meth:`close_all`)."""
        self._stop.set()
        self._wake()
        self._done.wait()

    def close_all(self) -> None:
        """Stop the workers once idle and close every connection the loop watches."""
        with self._cond:
            self._stopping = True
            waiting = list(self._ready)
            self._ready.clear()
            self._cond.notify_all()
        for conn in [*waiting, *self._watched.values(), *self._returned]:
            conn.close()
        self._watched.clear()
        self._returned.clear()
        for sock in (self._wake_r, self._wake_w):
            sock.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _accept(self, selector: selectors.BaseSelector) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file descriptors, a reset before accept: try again later
                return
            if self._open >= self.max_connections:
                _refuse(sock)
                continue
            try:
                conn = self._make(sock, address)
            except OSError:
                sock.close()
                continue
            with self._cond:
                self._open += 1
            conn.head_started = False
            conn.deadline = time.monotonic() + min(self.header_timeout, self._idle_timeout())
            self._register(selector, conn)

    def _register(self, selector: selectors.BaseSelector, conn: Connection) -> None:
        sock = conn.connection
        try:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, conn)
        except (OSError, ValueError):
            self._close(conn)
            return
        self._watched[sock] = conn

    def _watch(self, selector: selectors.BaseSelector, conn: Connection) -> None:
        """Take back a connection a worker finished with (idle, or its next head still incomplete)."""
        now = time.monotonic()
        if conn.buffered:
            conn.head_started = True
            conn.deadline = now + self.header_timeout
        else:
            conn.head_started = False
            conn.deadline = now + self._idle_timeout()
        self._register(selector, conn)

    def _unwatch(self, selector: selectors.BaseSelector, sock: socket.socket) -> Connection | None:
        conn = self._watched.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            selector.unregister(sock)
        return conn

    def _on_readable(self, selector: selectors.BaseSelector, sock: socket.socket) -> None:
        conn = self._watched.get(sock)
        if conn is None:
            return
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._unwatch(selector, sock)
            self._close(conn)
            return
        conn.buffered = conn.buffered + data if conn.buffered else data
        if not conn.head_started:
            conn.head_started = True
            conn.deadline = time.monotonic() + self.header_timeout
        if head_ready(conn.buffered, self._line_limit):
            self._unwatch(selector, sock)
            try:
                sock.setblocking(True)
            except OSError:
                self._close(conn)
                return
            self._dispatch(conn)

    def _expire(self, selector: selectors.BaseSelector, now: float) -> None:
        late = [sock for sock, conn in self._watched.items() if conn.deadline <= now]
        for sock in late:
            conn = self._unwatch(selector, sock)
            if conn is not None:
                if conn.buffered:  # a head that never finished: say so, then close
                    _send_quietly(sock, _timeout_answer())
                self._close(conn)

    def _close(self, conn: Connection) -> None:
        conn.close()
        with self._cond:
            self._open -= 1

    # -- the worker pool ------------------------------------------------------------------------

    def _dispatch(self, conn: Connection) -> None:
        with self._cond:
            if self._stopping or len(self._ready) >= self.max_workers:
                refused = True
            else:
                refused = False
                self._ready.append(conn)
                if self._idle_workers == 0 and len(self._workers) < self.max_workers:
                    worker = threading.Thread(
                        target=self._work, name=f"kmslab-kms-worker-{len(self._workers) + 1}", daemon=True
                    )
                    self._workers.append(worker)
                    worker.start()
                else:
                    self._cond.notify()
        if refused:
            _send_quietly(conn.connection, THROTTLED_ANSWER)
            self._close(conn)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._ready and not self._stopping:
                    self._idle_workers += 1
                    self._cond.wait()
                    self._idle_workers -= 1
                if not self._ready:
                    return
                conn = self._ready.popleft()
            try:
                keep = conn.run()
            except Exception:  # noqa: BLE001 - the handler logs its own errors; a worker never dies
                keep = False
            if keep and not self._stop.is_set():
                self._returned.append(conn)
                self._wake()
            else:
                self._close(conn)


def _timeout_answer() -> bytes:
    body = error_body("RequestTimeoutException", "The request head did not arrive in time.")
    return (
        f"HTTP/1.1 408 Request Timeout\r\nContent-Type: {CONTENT_TYPE}\r\nConnection: close\r\n".encode()
        + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    """Send a short final answer without blocking (it fits the socket buffer), ignoring a gone client."""
    with contextlib.suppress(OSError):
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError, InterruptedError):  # drop what the client sent, avoiding a reset
            while sock.recv(65536):
                pass
        sock.send(data)


def _refuse(sock: socket.socket) -> None:
    _send_quietly(sock, THROTTLED_ANSWER)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    sock.close()
