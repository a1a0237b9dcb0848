"""The services the kit uses that the local cloud does not implement itself, served by moto in-process.

moto's Flask/werkzeug application answers the request after the gateway authenticated it. Before
that, the caller's IAM policies are evaluated for the action (``<service>:<Operation>``): an
Allow counts only when its statement covers every resource (``Resource: "*"``) and a Deny counts
whatever resource it names, so a principal never gets more than AWS would give it (sometimes
less: a narrow resource-scoped Allow is not honoured here). moto keeps these services' state in
memory only (``kmslab local status`` says so). An operation moto does not implement answers an
AWS-shaped ``NotImplemented`` (501) naming it; a moto failure on a malformed request answers an
AWS-shaped 400; never moto's HTML 500 page.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from kmslab.cloud.errors import PROTOCOLS, CloudError
from kmslab.cloud.gateway.request import Call, Incoming, Outgoing
from kmslab.iam import CloudIdentities, evaluate_policy
from kmslab.kms.policy import is_root, request_context
from kmslab.kms.seams import AuthorizationRequest

log = logging.getLogger(__name__)

#: signing name -> IAM action prefix
ACTION_PREFIX = {"monitoring": "cloudwatch"}
MOTO_SERVICES = (
    "iam",
    "sqs",
    "sns",
    "dynamodb",
    "glue",
    "monitoring",
    "logs",
    "events",
    "lambda",
    "athena",
    "cloudtrail",
    "ssm",
    "secretsmanager",
)
_CBOR_OP = re.compile(r"/service/[^/]+/operation/([A-Za-z0-9]+)$")
_LAMBDA_ROUTES = (
    ("POST", re.compile(r"/functions/[^/]+/invocations$"), "InvokeFunction"),
    ("POST", re.compile(r"/functions/?$"), "CreateFunction"),
    ("GET", re.compile(r"/functions/?$"), "ListFunctions"),
    ("GET", re.compile(r"/functions/[^/]+/?$"), "GetFunction"),
    ("DELETE", re.compile(r"/functions/[^/]+/?$"), "DeleteFunction"),
    ("PUT", re.compile(r"/functions/[^/]+/code$"), "UpdateFunctionCode"),
    ("PUT", re.compile(r"/functions/[^/]+/configuration$"), "UpdateFunctionConfiguration"),
    ("GET", re.compile(r"/functions/[^/]+/configuration$"), "GetFunctionConfiguration"),
    ("POST", re.compile(r"/functions/[^/]+/policy$"), "AddPermission"),
    ("GET", re.compile(r"/functions/[^/]+/policy$"), "GetPolicy"),
)


def _operation(service: str, request: Incoming) -> str | None:
    protocol = PROTOCOLS.get(service, "json")
    if protocol == "json":
        target = request.headers.get("x-amz-target", "")
        return target.rsplit(".", 1)[-1] if target else None
    if protocol == "query":
        params = dict(parse_qsl(request.query))
        if "Action" not in params and request.method == "POST":
            try:
                params.update(parse_qsl(request.body().decode("utf-8")))
            except UnicodeDecodeError:
                return None
        return params.get("Action")
    if protocol == "cbor":
        match = _CBOR_OP.search(request.raw_path)
        return match.group(1) if match else None
    if service == "lambda":
        for method, pattern, name in _LAMBDA_ROUTES:
            if request.method == method and pattern.search(request.raw_path):
                return name
    return None


class MotoBridge:
    """Hand requests to moto's in-process application.

    Args:
        identities: for the IAM check of each action.
        account: the account moto answers as.
    """

    def __init__(self, identities: CloudIdentities, account: str) -> None:
        self.identities = identities
        self.account = account
        self._app: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Import moto now (on a background thread at start-up), so the first request does not wait."""
        self._application()

    def _application(self) -> Any:
        with self._lock:
            if self._app is None:
                from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

                self._app = DomainDispatcherApplication(create_backend_app)
            return self._app

    def service(self, name: str) -> MotoService:
        """Return the service module for one signing name.

        Args:
            name: the signing name.

        Returns:
            The module.
        """
        return MotoService(self, name)

    def check_iam(self, service: str, request: Incoming, call: Call) -> None:
        """Evaluate the caller's IAM policies for the action (see the module docstring).

        Args:
            service: the signing name.
            request: the request.
            call: who sends it.

        Raises:
            CloudError: AccessDenied in the service's protocol.
        """
        caller = call.caller
        if is_root(caller) and caller.account == self.account:
            return
        operation = _operation(service, request) or "*"
        action = f"{ACTION_PREFIX.get(service, service)}:{operation}"
        ctx = request_context(AuthorizationRequest(caller=caller, action=action, region=call.region))
        allowed = denied = False
        from kmslab.cloud.services._iam_resources import resource_arn

        target = resource_arn(service, request, account=self.account, region=call.region) or "*"
        for named in self.identities.policies_for(caller):
            strict = evaluate_policy(
                named.policy, source=named.name, caller=caller, action=action, resource=target, context=ctx
            )
            loose = evaluate_policy(
                named.policy, source=named.name, caller=caller, action=action, resource=None, context=ctx
            )
            allowed = allowed or bool(strict.allows)
            denied = denied or bool(loose.denies)
        if allowed and not denied:
            return
        why = (
            "with an explicit deny in an identity-based policy"
            if denied
            else "because no identity-based policy allows the " + action + " action"
        )
        message = f"User: {caller.arn} is not authorized to perform: {action} {why}"
        protocol = PROTOCOLS.get(service, "json")
        code = "AccessDenied" if protocol == "query" else "AccessDeniedException"
        raise CloudError(code, message, 403 if protocol in ("query", "rest-json") else 400)

    def forward(self, service: str, request: Incoming, call: Call) -> Outgoing:
        """Answer a request with moto.

        Args:
            service: the signing name.
            request: the request.
            call: who sends it.

        Returns:
            moto's answer.

        Raises:
            CloudError: moto does not implement the operation, or failed on the request.
        """
        body = request.body()
        environ = dict(request.environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = self.account
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = headers

        operation = _operation(service, request) or "this operation"
        try:
            chunks: Iterable[bytes] = self._application()(environ, start_response)
            payload = b"".join(chunks)
        except NotImplementedError as exc:
            if "has not been implemented" not in str(exc):
                raise CloudError(
                    "ValidationException" if PROTOCOLS.get(service) != "query" else "ValidationError",
                    f"The local {service} (moto) does not support this {operation} request.",
                    400,
                ) from None
            raise CloudError(
                "NotImplemented",
                f"{service} {operation} is not emulated by the local cloud (moto does not implement it).",
                501,
            ) from None
        except Exception as exc:
            log.info("moto failed on %s %s: %r", service, operation, exc)
            raise CloudError(
                "ValidationException" if PROTOCOLS.get(service) != "query" else "ValidationError",
                f"The local {service} (moto) could not process this {operation} request ({type(exc).__name__}).",
                400,
            ) from None
        status = captured.get("status", 500)
        headers = [
            (k, v)
            for k, v in captured.get("headers", [])
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date")
        ]
        html = payload.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html"))
        if status >= 500:
            raise CloudError(
                "NotImplemented",
                f"{service} {operation} is not emulated by the local cloud (moto answered HTTP {status}).",
                501,
            )
        if status >= 400 and html:
            raise CloudError(
                "UnknownOperationException",
                f"The local {service} has no route for {request.method} {request.raw_path[:80]}.",
                404,
            )
        headers.append(("Content-Length", str(len(payload))))
        return Outgoing(status, headers, payload)


class MotoService:
    """One moto-served service behind the gateway.

    Args:
        bridge: the shared moto application.
        name: the signing name.
    """

    def __init__(self, bridge: MotoBridge, name: str) -> None:
        self.bridge = bridge
        self.name = name
        self.protocol = PROTOCOLS.get(name, "json")

    def handle(self, request: Incoming, call: Call) -> Outgoing:
        """Check IAM, then let moto answer.

        Args:
            request: the request.
            call: who sends it.

        Returns:
            The answer.
        """
        self.bridge.check_iam(self.name, request, call)
        return self.bridge.forward(self.name, request, call)


_running = 0
_running_lock = threading.Lock()


def cloud_started() -> None:
    """Count a local cloud that serves moto's services in this process."""
    global _running
    with _running_lock:
        _running += 1


def cloud_stopped() -> None:
    """Forget moto's in-memory state when the last local cloud of this process stops.

    moto keeps its backends in process-wide memory. A learner's cloud is one process, so its moto
    state ends with it; a process that runs several clouds one after another (the tests) must not
    let the next one see the last one's databases, roles and queues.
    """
    global _running
    with _running_lock:
        _running = max(0, _running - 1)
        if _running:
            return
    import sys

    if "moto" in sys.modules:
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
