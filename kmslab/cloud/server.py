"""The local cloud's HTTP(S) server: werkzeug's threaded WSGI server around the gateway."""

from __future__ import annotations

import logging
import ssl
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """One line per request only when verbose; never a traceback page."""

    verbose = False

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.verbose:
            super().log_request(code, size)

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if self.verbose:
            super().log_error(format, *args)


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
        logging.getLogger("werkzeug").setLevel(logging.INFO if verbose else logging.ERROR)
        handler = type("Handler", (_QuietHandler,), {"verbose": verbose})
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=handler, ssl_context=ssl_context
        )
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        self.tls = ssl_context is not None
        self._thread: threading.Thread | None = None

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
