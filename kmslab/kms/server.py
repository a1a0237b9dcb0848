"""The local KMS as an HTTP endpoint that speaks the AWS KMS JSON 1.1 protocol.

Point any AWS SDK at it (``AWS_ENDPOINT_URL_KMS=http://127.0.0.1:4599``) with any credentials::

    kms = LocalKms(data_dir=".kmslab/kms")
    with KmsServer(kms, port=0) as server:
        client = boto3.client("kms", endpoint_url=server.url, region_name="us-east-1")

Routes:

* ``POST /`` with ``X-Amz-Target: TrentService.<Operation>``: a KMS call. The region is the one in
  the request's SigV4 credential scope, so one endpoint serves every region.
* ``POST /`` with another target prefix: a service mounted with :meth:`KmsServer.add_service`.
* ``GET /_kmslab/health``: liveness (and, to an authorized caller, the endpoint's account and region).
* ``GET /_kmslab/clock`` and ``POST /_kmslab/clock`` ``{"advanceSeconds": N}``: read or move the
  engine's clock forward (pending deletions, rotations and expiries then fall due). These need the
  endpoint's control token or a request signed by an admin identity, and refuse browser requests
  (see :mod:`kmslab.kms.control`).

Every error is AWS-shaped JSON (``__type``, ``message``) with a 4xx status; a bug gives a 500 JSON
answer and the server keeps serving (a bug in an operation is logged by the engine, any other by the
HTTP layer, both with :mod:`logging`).

Over 400 lines because it is one concept, the endpoint application: its lifecycle (start, stop,
signals), its routing (KMS, control, mounted services) and :func:`build_server`, which
``kmslab kms serve`` and :mod:`kmslab.endpoint` build it with. HTTP framing lives in
:mod:`kmslab.kms._http`, the KMS wire format in :mod:`kmslab.kms._wire`.
"""

from __future__ import annotations

import itertools
import json
import logging
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

from kmslab.kms import _wire
from kmslab.kms._control_routes import CONTROL_PREFIX, MAX_ADVANCE_SECONDS, ControlRoutes, json_object
from kmslab.kms._http_read import Headers
from kmslab.kms._http_server import HttpServer
from kmslab.kms._http_types import Response, error_response
from kmslab.kms._protocol import TARGET_PREFIX
from kmslab.kms._responses import b64, ts
from kmslab.kms._serving import DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_WORKERS
from kmslab.kms.control import forget_token, load_or_create_token, new_token, register_token
from kmslab.kms.errors import KmsError
from kmslab.kms.seams import DEFAULT_ACCOUNT, DEFAULT_REGION, Authorizer, Caller, EventSink

if TYPE_CHECKING:
    from kmslab.kms import LocalKms

__all__ = [
    "CONTROL_PREFIX",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "KMS_TARGET_PREFIX",
    "MAX_ADVANCE_SECONDS",
    "IdentityResolver",
    "KmsServer",
    "ServiceHandler",
    "build_server",
]

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4599
#: the KMS operations' ``X-Amz-Target`` prefix (the wire layer's, named for this module's readers).
KMS_TARGET_PREFIX = TARGET_PREFIX

#: ``(headers, method, path, body, source_ip) -> (caller, region)``; raises KmsError to refuse. A resolver
#: that verifies signatures may also have ``is_control_admin(caller) -> bool``: callers it approves may
#: then use the control routes with a signed request (see :class:`kmslab.kms.authz.SigV4Resolver`).
IdentityResolver = Callable[[Mapping[str, str], str, str, bytes, str], tuple[Caller, str]]
#: ``(operation, body, caller, region) -> response body``; raises KmsError to refuse.
ServiceHandler = Callable[[str, dict[str, Any], Caller, str], Mapping[str, Any]]
#: called once when the server stops, after in-flight requests finished.
CloseCallback = Callable[[], None]


class KmsServer:
    """Serve a :class:`~kmslab.kms.LocalKms` over HTTP on a background thread.

    Args:
        kms: the engine to serve; the server closes it when it stops (unless ``owns_kms`` is False).
        host: the address to listen on.
        port: the port; 0 picks a free one (read it back from :attr:`url`).
        identity_resolver: turns a request into ``(Caller, region)``; defaults to the wire layer's
            ``caller_from_headers`` (the account root, region from the SigV4 credential scope).
        on_close: callbacks run once when the server stops, after the engine is closed
            (for example flushing a CloudTrail recorder).
        owns_kms: close ``kms`` on stop.
        verbose: log one line per request to stderr.
        control_token: the secret that authorizes the control routes (``/_kmslab/*``); None makes a
            random one (read it from :attr:`control_token`). In-process :class:`~kmslab.kms.control.ControlClient`
            objects for this server's URL find it without being told.
        max_workers: requests answered at once (a bounded pool of worker threads; idle connections
            take none). Past it, as many ready connections wait, then get a 503 ThrottlingException.
        header_timeout: seconds a request head may take to arrive before the connection is closed.
        max_connections: open connections at most; more get a 503 ThrottlingException.

    Raises:
        OSError: the address cannot be bound (``errno.EADDRINUSE`` when the port is busy).
    """

    def __init__(
        self,
        kms: LocalKms,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        identity_resolver: IdentityResolver | None = None,
        on_close: Iterable[CloseCallback] = (),
        owns_kms: bool = True,
        verbose: bool = False,
        control_token: str | None = None,
        max_workers: int = DEFAULT_MAX_WORKERS,
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.kms = kms
        self._account = str(getattr(kms, "account", DEFAULT_ACCOUNT))
        self._default_region = str(getattr(kms, "region", DEFAULT_REGION))
        self._identity = identity_resolver or self._default_identity
        self._services: dict[str, ServiceHandler] = {}
        self.on_close: list[CloseCallback] = list(on_close)
        self._owns_kms = owns_kms
        self._httpd = HttpServer(
            (host, port),
            self,
            verbose=verbose,
            max_workers=max_workers,
            header_timeout=header_timeout,
            max_connections=max_connections,
        )
        self._thread: threading.Thread | None = None
        self._stop_lock = threading.Lock()
        self._stopped = threading.Event()
        random_id = uuid.uuid4()
        self._request_id_prefix = str(random_id)[:24]
        self._request_counter = itertools.count(random_id.int & 0xFFFFFFFF)
        self._control_token = control_token or new_token()
        is_admin = getattr(identity_resolver, "is_control_admin", None)
        self._control = ControlRoutes(
            kms,
            account=self._account,
            region=self._default_region,
            token=self._control_token,
            verify=identity_resolver,
            is_admin=is_admin if callable(is_admin) else None,
        )
        register_token(self.url, self._control_token)

    @property
    def worker_count(self) -> int:
        """Worker threads started so far (at most ``max_workers``)."""
        return self._httpd.loop.worker_count

    @property
    def control_token(self) -> str:
        """The secret that authorizes the control routes (header ``X-Kmslab-Control-Token``)."""
        return self._control_token

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        """The port the server listens on (the real one when created with port 0)."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The endpoint URL, e.g. ``http://127.0.0.1:4599``."""
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> KmsServer:
        """Start answering requests on a background (daemon) thread.

        Returns:
            The server itself.
        """
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="kmslab-kms-http", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, let in-flight requests finish, close connections, the engine and ``on_close``.

        Safe to call more than once and from any thread.

        Args:
            timeout: how long to wait for in-flight requests, in seconds.
        """
        with self._stop_lock:
            if self._stopped.is_set():
                return
            forget_token(self.url, self._control_token)
            if self._thread is not None:
                self._httpd.shutdown()
                self._thread.join(timeout)
            self._httpd.drain(timeout)
            self._httpd.server_close()
            try:
                if self._owns_kms:
                    self.kms.close()
            finally:
                for callback in self.on_close:
                    try:
                        callback()
                    except Exception:  # one failing callback must not stop the others
                        log.exception("on_close callback %r failed", callback)
                self._stopped.set()

    def serve_forever(self) -> None:
        """Serve until SIGINT or SIGTERM (or :meth:`stop` from another thread), then stop cleanly.

        Signal handlers are installed only when called from the main thread, and restored afterwards.
        """
        wake = threading.Event()
        previous: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():

            def _on_signal(signum: int, frame: FrameType | None) -> None:
                wake.set()

            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, _on_signal)
        try:
            self.start()
            while not wake.wait(0.5) and not self._stopped.is_set():
                pass
        finally:
            try:
                self.stop()
            finally:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)

    def __enter__(self) -> KmsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- routing -------------------------------------------------------------------------------

    def add_service(self, prefix: str, handler: ServiceHandler) -> None:
        """Mount another JSON service on the endpoint, by ``X-Amz-Target`` prefix.

        A request whose target is ``<prefix>.<Operation>`` (or ``<prefix><Operation>`` when the
        prefix already ends with a dot) goes to ``handler(operation, body, caller, region)``.

        Args:
            prefix: the target prefix, e.g. ``com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101``.
            handler: answers with a JSON object or raises a :class:`~kmslab.kms.errors.KmsError`.

        Raises:
            ValueError: the prefix is empty or is the KMS prefix.
        """
        normal = prefix if prefix.endswith(".") else prefix + "."
        if normal == "." or normal == KMS_TARGET_PREFIX:
            raise ValueError(f"cannot mount a service on the target prefix {prefix!r}")
        self._services[normal] = handler

    def handle_request(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, source_ip: str
    ) -> Response:
        """Answer one HTTP request (called by the HTTP layer on a worker thread).

        Args:
            method: the HTTP method.
            path: the request target.
            headers: the request headers (case-insensitive lookup).
            body: the request body.
            source_ip: the client address.

        Returns:
            The answer.

        Raises:
            Exception: only a bug outside the operations (the HTTP layer logs it and answers 500).
        """
        # UUID-shaped and unique: a random per-server prefix and a counter (next() on a count is atomic).
        request_id = f"{self._request_id_prefix}{next(self._request_counter):012x}"
        try:
            if path == "/" and method == "POST":  # the common case: a KMS call
                fields = headers.fields if type(headers) is Headers else None
                target = fields.get("x-amz-target") if fields is not None else headers.get("X-Amz-Target")
                if target and target.startswith(KMS_TARGET_PREFIX):
                    caller, region = self._identity(headers, method, path, body, source_ip)
                    status, payload = _wire.answer(self.kms, target, body, caller, region, request_id)
                    return Response(status, payload, {"x-amzn-RequestId": request_id})
            if path != "/" and path.startswith(CONTROL_PREFIX):
                return self._control.handle(method, path, headers, body, source_ip)
            if path != "/" and path.split("?", 1)[0] != "/":
                return error_response(
                    400, "UnknownOperationException", f"No such route: {path[:200]}", request_id=request_id
                )
            if method != "POST":
                return error_response(
                    400,
                    "UnknownOperationException",
                    f"{method[:20]} is not supported; send POST / with an X-Amz-Target header.",
                    request_id=request_id,
                )
            target = headers.get("X-Amz-Target")
            if not target:
                return error_response(
                    400, "UnknownOperationException", "The request has no X-Amz-Target header.", request_id=request_id
                )
            if target.startswith(KMS_TARGET_PREFIX):
                caller, region = self._identity(headers, method, path, body, source_ip)
                status, payload = _wire.answer(self.kms, target, body, caller, region, request_id)
                return Response(status, payload, {"x-amzn-RequestId": request_id})
            return self._service(target, method, path, headers, body, source_ip, request_id)
        except KmsError as exc:
            return error_response(exc.status, exc.code, exc.message, request_id=request_id)

    def _default_identity(
        self, headers: Mapping[str, str], method: str, path: str, body: bytes, source_ip: str
    ) -> tuple[Caller, str]:
        caller, region = _wire.caller_from_headers(headers, account=self._account, source_ip=source_ip)
        return caller, region or self._default_region

    def _service(
        self,
        target: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        source_ip: str,
        request_id: str,
    ) -> Response:
        prefix = next((p for p in self._services if target.startswith(p)), None)
        if prefix is None:
            return error_response(
                400, "UnknownOperationException", f"Unknown X-Amz-Target: {target[:200]}", request_id=request_id
            )
        handler, operation = self._services[prefix], target[len(prefix) :]
        params = json_object(body)
        caller, region = self._identity(headers, method, path, body, source_ip)
        answer = handler(operation, params, caller, region)
        payload = json.dumps(answer, default=_json_default).encode()
        return Response(200, payload, {"x-amzn-RequestId": request_id})


def build_server(
    *,
    data_dir: str | None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
    sinks: Iterable[EventSink] = (),
    authorizer: Authorizer | None = None,
    identity_resolver: IdentityResolver | None = None,
    on_close: Iterable[CloseCallback] = (),
    verbose: bool = False,
    max_workers: int = DEFAULT_MAX_WORKERS,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
) -> KmsServer:
    """Open a :class:`~kmslab.kms.LocalKms` on ``data_dir`` and wrap it in a (not yet started) server.

    The one place ``kmslab kms serve`` builds its server: options that add event sinks (a CloudTrail
    recorder), an authorizer or an identity resolver (SigV4 with per-identity credentials) pass them here.
    With a data directory, the clock's forward offset (``advance-time``) is saved there and survives restarts,
    and the control token is kept there (``control.token``, mode 0600) for ``kmslab kms advance-time``.

    Args:
        data_dir: where keys persist; None keeps them in memory.
        host: the address to listen on.
        port: the port; 0 picks a free one.
        region: the region of requests that name none.
        account: the account that owns the keys.
        sinks: event sinks added to the engine (each sees every answered call).
        authorizer: decides every request; None allows all.
        identity_resolver: turns a request into ``(Caller, region)``; None uses the default.
        on_close: callbacks run when the server stops.
        verbose: log one line per request to stderr.
        max_workers: requests answered at once (see :class:`KmsServer`).
        header_timeout: seconds a request head may take to arrive.

    Returns:
        The server; call :meth:`KmsServer.start` or :meth:`KmsServer.serve_forever`.

    Raises:
        OSError: the port is busy or the address cannot be bound (checked before the engine opens).
        ValueError: the saved clock offset in ``data_dir`` is corrupt.
    """
    from kmslab.kms import LocalKms
    from kmslab.kms._clockfile import SavedOffsetClock

    _probe_bind(host, port)
    clock = SavedOffsetClock(data_dir) if data_dir is not None else None
    kms = LocalKms(data_dir, account=account, region=region, clock=clock, authorizer=authorizer)
    try:
        for sink in sinks:
            kms.add_sink(sink)
        token = load_or_create_token(data_dir) if data_dir is not None else None
        return KmsServer(
            kms,
            host=host,
            port=port,
            identity_resolver=identity_resolver,
            on_close=on_close,
            verbose=verbose,
            control_token=token,
            max_workers=max_workers,
            header_timeout=header_timeout,
        )
    except BaseException:
        kms.close()
        raise


def _probe_bind(host: str, port: int) -> None:
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def _json_default(value: Any) -> Any:
    # The AWS JSON protocol sends timestamps as epoch seconds and blobs as base64.
    if isinstance(value, datetime):
        return ts(value)
    if isinstance(value, bytes | bytearray):
        return b64(bytes(value))
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
