"""Lambda behind the gateway: moto answers the control plane, :class:`LambdaRuntime` answers Invoke.

moto drops ``DeadLetterConfig`` and ``LoggingConfig`` from CreateFunction / UpdateFunctionConfiguration;
they are kept here (per function ARN, in memory like moto's state): the dead-letter queue for the
runtime's asynchronous failures, the log group for where the function's logs go.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import parse_qsl, unquote

from kmslab.cloud.alerts.lambda_runtime import LambdaRuntime
from kmslab.cloud.errors import CloudError
from kmslab.cloud.gateway.request import Call, Incoming, Outgoing
from kmslab.cloud.services._front import MotoFront

_INVOKE = re.compile(r"/functions/([^/]+)/invocations$")
_CONFIG = re.compile(r"/functions/([^/]+)/configuration$")
_CREATE = re.compile(r"/functions/?$")


class LambdaService(MotoFront):
    """The gateway's Lambda module.

    Args:
        moto: the moto-served Lambda module (``MotoService``), for IAM checks and everything but Invoke.
        runtime: runs the functions.
    """

    protocol = "rest-json"

    def __init__(self, moto: Any, runtime: LambdaRuntime) -> None:
        super().__init__(moto)
        self.runtime = runtime

    def handle(self, request: Incoming, call: Call) -> Outgoing:  # noqa: D102 - MotoFront.handle
        path = request.raw_path.split("?", 1)[0]
        invoke = _INVOKE.search(path) if request.method == "POST" else None
        if invoke is None:
            out = self.by_moto(request, call)
            if out.status < 300 and request.method in ("POST", "PUT"):
                self._keep_config(request, path, call.region)
            return self._with_logging_config(out, call.region) if out.status < 300 else out
        self.moto.bridge.check_iam("lambda", request, call)
        name = unquote(invoke.group(1))
        kind = request.headers.get("x-amz-invocation-type", "RequestResponse")
        qualifier = dict(parse_qsl(request.query)).get("Qualifier")
        if qualifier not in (None, "$LATEST"):
            raise CloudError(
                "ResourceNotFoundException", f"The local Lambda serves $LATEST only, not {qualifier[:40]}.", 404
            )
        payload = request.body()
        if kind == "DryRun":
            self.runtime.function(name, call.region)
            return Outgoing(204, [("Content-Length", "0")], b"")
        if kind == "Event":
            request_id = self.runtime.invoke_async(name, payload, region=call.region)
            return Outgoing(202, [("Content-Length", "0"), ("x-amzn-RequestId", request_id)], b"")
        if kind != "RequestResponse":
            raise CloudError("InvalidParameterValueException", f"Invalid invocation type: {kind[:40]}", 400)
        result = self.runtime.invoke(name, payload, region=call.region)
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(result.payload))),
            ("X-Amz-Executed-Version", "$LATEST"),
            ("x-amzn-RequestId", result.request_id),
        ]
        if result.function_error:
            headers.append(("X-Amz-Function-Error", result.function_error))
        if request.headers.get("x-amz-log-type", "None") == "Tail":
            tail = result.log.encode("utf-8")[-4096:]
            headers.append(("X-Amz-Log-Result", base64.b64encode(tail).decode()))
        return Outgoing(200, headers, result.payload)

    def _with_logging_config(self, out: Outgoing, region: str) -> Outgoing:
        """Add ``LoggingConfig`` (which moto leaves out) to an answer that describes functions."""
        if not isinstance(out.body, bytes | bytearray) or not out.body.startswith(b"{"):
            return out
        try:
            body = json.loads(out.body)
        except ValueError:
            return out
        if isinstance(body.get("Functions"), list):  # ListFunctions
            described = [f for f in body["Functions"] if isinstance(f, dict)]
        elif isinstance(body.get("Configuration"), dict):  # GetFunction
            described = [body["Configuration"]]
        else:  # GetFunctionConfiguration, CreateFunction, UpdateFunctionConfiguration...
            described = [body]
        changed = False
        for config in described:
            if "FunctionArn" not in config or "Runtime" not in config:
                continue
            try:
                function = self.runtime.function(str(config["FunctionArn"]), region)
            except CloudError:
                continue
            config["LoggingConfig"] = {"LogFormat": "Text", "LogGroup": self.runtime.log_group(function)}
            changed = True
        if not changed:
            return out
        data = json.dumps(body).encode()
        headers = [(k, v) for k, v in out.headers if k.lower() != "content-length"]
        return Outgoing(out.status, [*headers, ("Content-Length", str(len(data)))], data)

    def _keep_config(self, request: Incoming, path: str, region: str) -> None:
        config = _CONFIG.search(path)
        if config is None and not _CREATE.search(path):
            return
        try:
            body = json.loads(request.body() or b"{}")
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        name = unquote(config.group(1)) if config else str(body.get("FunctionName", ""))
        if not name or ("DeadLetterConfig" not in body and "LoggingConfig" not in body):
            return
        try:
            arn = str(self.runtime.function(name, region).function_arn)
        except CloudError:
            return
        for field, kept, value in (
            ("DeadLetterConfig", self.runtime.dead_letters, "TargetArn"),
            ("LoggingConfig", self.runtime.log_groups, "LogGroup"),
        ):
            if field not in body:
                continue
            given = (body.get(field) or {}).get(value, "")
            if given:
                kept[arn] = str(given)
            else:
                kept.pop(arn, None)
