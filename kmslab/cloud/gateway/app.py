"""The gateway's WSGI application: route by the SigV4 credential scope's service, as LocalStack does.

Order for each request: control routes (``/_kmslab/health``, ``/_kmslab/stats``, ``/_kmslab/clock``); read the
signature (header or presigned query form); pick the service from the credential scope (an
unsigned request can only be an anonymous S3 request); verify the signature; hand the request
to the service module. Every failure is AWS-shaped in the service's protocol; a bug answers an
AWS-shaped ``InternalError`` and the gateway keeps serving.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kmslab.cloud.errors import PROTOCOLS, CloudError, render_error
from kmslab.cloud.gateway.auth import as_cloud_error, authenticate
from kmslab.cloud.gateway.clock import ClockRoute
from kmslab.cloud.gateway.request import Incoming, Outgoing, Service
from kmslab.iam import CloudIdentities, IamError, parse_signature

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_kmslab/"
#: a refused request's unread body is read (so the client sees the answer) up to this size
_DRAIN_LIMIT = 8 * 1024 * 1024
#: signing names that are another service's alias
SIGNING_ALIASES = {"eventbridge": "events"}
#: X-Amz-Target prefixes of unsigned requests, to answer them in the right protocol
_TARGET_SERVICES = {
    "TrentService": "kms",
    "AmazonSQS": "sqs",
    "DynamoDB_20120810": "dynamodb",
    "AWSGlue": "glue",
    "Logs_20140328": "logs",
    "AWSEvents": "events",
    "AmazonAthena": "athena",
    "AmazonSSM": "ssm",
    "secretsmanager": "secretsmanager",
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101": "cloudtrail",
}

StartResponse = Callable[..., Any]
StatsSource = Callable[[], Mapping[str, Any]]


class Gateway:
    """Every local service behind one WSGI application.

    Args:
        identities: who may sign requests.
        services: signing name -> service module.
        region: the region of unsigned requests.
        stats: named sources of figures for ``/_kmslab/stats`` (e.g. S3's KMS call counter).
        info: static facts for ``/_kmslab/health`` (account, memory-only services...).
        clock: the ``/_kmslab/clock`` route (read or move the cloud's clock), if any.
    """

    def __init__(
        self,
        *,
        identities: CloudIdentities,
        services: Mapping[str, Service],
        region: str,
        stats: Mapping[str, StatsSource] | None = None,
        info: Mapping[str, Any] | None = None,
        clock: ClockRoute | None = None,
    ) -> None:
        self.identities = identities
        self.services = dict(services)
        self.region = region
        self._stats = dict(stats or {})
        self._info = dict(info or {})
        self._clock = clock
        self._requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.started = time.time()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        secure = environ.get("wsgi.url_scheme") == "https"
        service = "unknown"
        request: Incoming | None = None
        try:
            request = Incoming(environ, secure=secure)
            if request.raw_path.startswith(CONTROL_PREFIX):
                out = self._control(request)
            else:
                service = self._guess_service(request)
                signed = parse_signature(request.headers, request.query)
                if signed is not None:
                    service = SIGNING_ALIASES.get(signed.service, signed.service)
                module = self.services.get(service)
                if module is None:
                    raise CloudError(
                        "UnknownServiceException" if service != "unknown" else "MissingAuthenticationTokenException",
                        f"The local cloud does not emulate the service '{service[:40]}'."
                        if service != "unknown"
                        else "The request is not signed (AWS Signature Version 4), so no service can be chosen.",
                        400,
                    )
                call = authenticate(
                    request,
                    signed,
                    identities=self.identities,
                    service=service,
                    default_region=self.region,
                    request_id=request_id,
                )
                with self._lock:
                    self._requests[service] += 1
                out = module.handle(request, call)
        except IamError as exc:
            out = self._error(service, as_cloud_error(service, exc), request_id)
        except CloudError as exc:
            out = self._error(service, exc, request_id)
        except Exception:
            log.exception("internal error in the local %s (request %s)", service, request_id)
            error = CloudError("InternalError", "The local cloud failed to answer this request.", 500)
            out = self._error(service, error, request_id)
        if request is not None and out.status >= 400:
            self._drain(request, out)
        start_response(f"{out.status} {_reason(out.status)}", out.headers)
        if request is not None and request.method == "HEAD":
            return [b""]
        return out.chunks()

    # -- helpers -----------------------------------------------------------------------------

    def _guess_service(self, request: Incoming) -> str:
        target = request.headers.get("x-amz-target", "")
        if target:
            return _TARGET_SERVICES.get(target.split(".", 1)[0] if "." in target else target, "unknown")
        return "s3"

    def _error(self, service: str, error: CloudError, request_id: str) -> Outgoing:
        status, headers, body = render_error(PROTOCOLS.get(service, "json"), error, request_id)
        return Outgoing(status, [*headers, ("Content-Length", str(len(body)))], body)

    @staticmethod
    def _drain(request: Incoming, out: Outgoing) -> None:
        """Read what is left of a refused request's body, or close the connection when too much is left."""
        if request._body is not None:
            return
        try:
            length = request.content_length
        except CloudError:
            length = None
        try:
            if length is not None and length <= _DRAIN_LIMIT:
                request.stream.read(length)
                return
            chunked = length is None and request.environ.get("wsgi.input_terminated")
            if chunked and len(request.stream.read(_DRAIN_LIMIT + 1)) <= _DRAIN_LIMIT:
                return
        except (OSError, ValueError):
            pass
        out.headers.append(("Connection", "close"))

    def _control(self, request: Incoming) -> Outgoing:
        route = request.raw_path[len(CONTROL_PREFIX) :]
        if route == "clock" and self._clock is not None:
            return self._clock.handle(request)
        if request.method != "GET":
            raise CloudError(
                "MethodNotAllowed", f"{request.method[:10]} is not allowed on {request.raw_path[:80]}", 405
            )
        if route == "health":
            payload: dict[str, Any] = {
                "status": "ok",
                "service": "kmslab-local",
                "services": sorted(self.services),
                "uptime_seconds": round(time.time() - self.started, 3),
                **self._info,
            }
        elif route == "stats":
            with self._lock:
                payload = {"requests": dict(self._requests)}
            for name, source in self._stats.items():
                payload[name] = dict(source())
        else:
            raise CloudError("UnknownOperationException", f"No such control route: {request.raw_path[:80]}", 404)
        body = json.dumps(payload, indent=2).encode()
        return Outgoing(200, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
