"""Run Python functions stored in moto's Lambda backend: Invoke, sync and async.

moto stores the function (code zip, handler, environment, timeout, layers) but would run it in
Docker. Here the zip and its layers are unpacked once per code digest into a private temporary
folder, and each invocation runs the handler in a worker process (``_worker.py``), an execution
environment kept warm between invocations of the same code and configuration (:mod:`._workers`),
with:

* the function's environment plus Lambda's reserved variables;
* temporary credentials of the execution role, issued by the cloud's identities when the
  environment starts, after the role's trust policy lets ``lambda.amazonaws.com`` assume it (the
  trust is checked again on every invocation, and an environment is retired before its
  credentials expire), so every call the function makes is signed as that role and judged by IAM
  and key policies;
* ``AWS_ENDPOINT_URL`` (and ``AWS_CA_BUNDLE``) pointing at the local cloud;
* the function's timeout (the worker is killed, and the invocation fails as "Task timed out") and
  memory size (a worker whose resident memory exceeds it is killed: ``Runtime.OutOfMemory``).

The invocation's output goes to CloudWatch Logs (moto), one stream per environment, between START /
END / REPORT lines: under ``/aws/lambda/<name>``, or under the function's own ``LoggingConfig.LogGroup``
with streams named ``YYYY/MM/DD/<name>[$LATEST]<environment>`` (Lambda Developer Guide,
"Configuring CloudWatch log groups"). An asynchronous invocation that fails is retried
``MaximumRetryAttempts`` times (EventInvokeConfig, default 2) and then sent to the function's
dead-letter queue (``DeadLetterConfig.TargetArn``) with the ``RequestID``, ``ErrorCode`` and
``ErrorMessage`` attributes AWS sets (Lambda Developer Guide, "Dead-letter queues"). AWS waits a
minute, then two, between retries; locally the retries follow at once.

``KMSLAB_LAMBDA_IDLE_WORKERS`` sets how many idle environments a function keeps (default 2; 0
starts a fresh worker for every invocation).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kmslab.cloud.alerts import _moto
from kmslab.cloud.alerts._lambda_code import CodeCache
from kmslab.cloud.alerts._lambda_env import (
    assume_execution_role,
    check_trust,
    config_key,
    worker_environment,
)
from kmslab.cloud.alerts._lambda_env import (
    idle_workers as default_idle_workers,
)
from kmslab.cloud.alerts._workers import Worker, WorkerPool
from kmslab.cloud.errors import CloudError
from kmslab.iam import CloudIdentities, evaluate_policy
from kmslab.kms.errors import KmsError
from kmslab.kms.policy import parse_policy, request_context
from kmslab.kms.seams import AuthorizationRequest, Caller

log = logging.getLogger(__name__)

_DEFAULT_ASYNC_RETRIES = 2

#: (account, region, group, stream, [(timestamp ms, message)]) -> None
LogSink = Callable[[str, str, str, str, list[tuple[int, str]]], None]


@dataclass(frozen=True)
class InvokeResult:
    """The outcome of one invocation.

    Args:
        payload: the response payload (the handler's JSON answer, or the error document).
        function_error: ``Unhandled`` when the function failed, else None.
        log: the invocation's log text.
        request_id: the invocation's request ID.
    """

    payload: bytes
    function_error: str | None
    log: str
    request_id: str


class LambdaRuntime:
    """Invoke the Python functions moto stores, in worker processes.

    Args:
        identities: the cloud's identities (roles and sessions).
        account: the cloud's account.
        endpoint: returns the cloud's endpoint URL (known once the server listens).
        ca_bundle: returns the cloud's CA certificate file, when it serves HTTPS.
        log_sink: where log lines go (CloudWatch Logs in moto by default).
        idle_workers: idle environments kept per function (None: ``KMSLAB_LAMBDA_IDLE_WORKERS``, else 2).
    """

    def __init__(
        self,
        *,
        identities: CloudIdentities,
        account: str,
        endpoint: Callable[[], str],
        ca_bundle: Callable[[], str | None] | None = None,
        log_sink: LogSink | None = None,
        idle_workers: int | None = None,
    ) -> None:
        self.identities = identities
        self.account = account
        self.endpoint = endpoint
        self.ca_bundle = ca_bundle
        self.log_sink: LogSink = log_sink or _moto.logs_put
        self.dead_letters: dict[str, str] = {}
        #: function ARN -> its ``LoggingConfig.LogGroup``, for functions that name one
        self.log_groups: dict[str, str] = {}
        self._root = Path(tempfile.mkdtemp(prefix="kmslab-lambda-"))
        self._code = CodeCache(self._root, account)
        self._async = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kmslab-lambda-async")
        self._pool = WorkerPool(default_idle_workers() if idle_workers is None else idle_workers)
        self._dlq_sender: Callable[[str, str, dict[str, str]], None] = self._send_to_dlq

    # -- lookup -------------------------------------------------------------------------------

    def function(self, name: str, region: str) -> Any:
        """Return moto's function for a name or ARN.

        Args:
            name: the function name or ARN.
            region: the request's Region.

        Returns:
            moto's ``LambdaFunction``.

        Raises:
            CloudError: ResourceNotFoundException.
        """
        if name.startswith("arn:"):
            region = name.split(":")[3] or region
            name = name.split(":")[6]
        backend = _moto.backend_or_none("moto.awslambda.models", "lambda_backends", self.account, region)
        try:
            if backend is None:
                raise LookupError(name)
            return backend.get_function(name)
        except Exception:
            raise CloudError(
                "ResourceNotFoundException",
                f"Function not found: arn:aws:lambda:{region}:{self.account}:function:{name}",
                404,
            ) from None

    # -- invocation ----------------------------------------------------------------------------

    def invoke(self, name: str, payload: bytes, *, region: str) -> InvokeResult:
        """Invoke a function and wait for its answer (``RequestResponse``).

        Args:
            name: the function name or ARN.
            payload: the event (JSON).
            region: the Region.

        Returns:
            The result.

        Raises:
            CloudError: the function does not exist, its payload is not JSON, or its role cannot be assumed.
        """
        function = self.function(name, region)
        try:
            event = json.loads(payload or b"{}")
        except ValueError:
            raise CloudError("InvalidRequestContentException", "Could not parse request body into json", 400) from None
        return self._run(function, event)

    def invoke_async(self, name: str, payload: bytes, *, region: str) -> str:
        """Queue an ``Event`` invocation: retried on failure, then sent to the dead-letter queue.

        Args:
            name: the function name or ARN.
            payload: the event (JSON).
            region: the Region.

        Returns:
            The request ID.

        Raises:
            CloudError: the function does not exist or the payload is not JSON.
        """
        function = self.function(name, region)
        try:
            event = json.loads(payload or b"{}")
        except ValueError:
            raise CloudError("InvalidRequestContentException", "Could not parse request body into json", 400) from None
        request_id = str(uuid.uuid4())
        self._async.submit(self._run_async, function, event, request_id)
        return request_id

    def invoke_for_service(self, function_arn: str, payload: bytes, *, principal: str, source_arn: str) -> str:
        """Queue an ``Event`` invocation made by a service (EventBridge, SNS) for one of its resources.

        As on AWS, the function's resource-based policy (AddPermission) must let the service principal
        invoke it, for that source ARN (Lambda Developer Guide, "Using resource-based policies").

        Args:
            function_arn: the function.
            payload: the event (JSON).
            principal: the service principal, e.g. ``events.amazonaws.com``.
            source_arn: the rule or topic that invokes.

        Returns:
            The request ID.

        Raises:
            CloudError: the function does not exist, or its policy does not let the service invoke it.
        """
        region = function_arn.split(":")[3]
        function = self.function(function_arn, region)
        if not self.may_invoke(function, principal, source_arn=source_arn, region=region):
            raise CloudError(
                "AccessDeniedException",
                f"{principal} is not authorized to perform: lambda:InvokeFunction on resource: "
                f"{function.function_arn} because no resource-based policy allows it (source {source_arn})",
                403,
            )
        return self.invoke_async(function_arn, payload, region=region)

    def may_invoke(self, function: Any, principal: str, *, source_arn: str, region: str) -> bool:
        """Tell whether a function's resource-based policy lets a service principal invoke it.

        Args:
            function: moto's function.
            principal: the service principal.
            source_arn: the invoking resource (``aws:SourceArn``).
            region: the Region.

        Returns:
            True when a statement allows and none denies.
        """
        statements = list(getattr(getattr(function, "policy", None), "statements", None) or [])
        if not statements:
            return False
        try:
            policy = parse_policy({"Version": "2012-10-17", "Statement": statements}, kind="key")
        except KmsError as exc:
            log.warning("the policy of %s cannot be read: %s", function.function_name, exc)
            return False
        service = Caller(arn=principal, account=self.account, identity_type="AWSService", principal_id=principal)
        action = "lambda:InvokeFunction"
        source = {"aws:SourceArn": source_arn, "aws:SourceAccount": source_arn.split(":")[4] or self.account}
        context = request_context(AuthorizationRequest(caller=service, action=action, region=region, context=source))
        decided = evaluate_policy(
            policy,
            source="function policy",
            caller=service,
            action=action,
            resource=str(function.function_arn),
            context=context,
        )
        return bool(decided.allows) and not decided.denies

    def close(self) -> None:
        """Drop queued async invocations, wait for running ones, stop the workers, delete the unpacked code."""
        self._async.shutdown(wait=True, cancel_futures=True)
        self._pool.close()
        shutil.rmtree(self._root, ignore_errors=True)

    def _run_async(self, function: Any, event: Any, request_id: str) -> None:
        retries = _DEFAULT_ASYNC_RETRIES
        for config in getattr(function, "event_invoke_config", []):
            retries = int(config.config.get("MaximumRetryAttempts", retries))
        result: InvokeResult | None = None
        try:
            for _ in range(retries + 1):
                result = self._run(function, event, request_id=request_id)
                if result.function_error is None:
                    return
        except Exception as exc:  # the role cannot be assumed, the code cannot be unpacked...
            log.warning("async invocation of %s failed: %s", function.function_name, exc)
            error = {"errorMessage": str(exc), "errorType": type(exc).__name__}
        else:
            error = json.loads(result.payload) if result is not None else {}
        target = self.dead_letters.get(function.function_arn)
        if not target:
            log.warning(
                "async invocation %s of %s failed; the function has no dead-letter queue",
                request_id,
                function.function_name,
            )
            return
        attributes = {
            "RequestID": request_id,
            "ErrorCode": "200",
            "ErrorMessage": str(error.get("errorMessage", ""))[:1000],
        }
        try:
            self._dlq_sender(target, json.dumps(event), attributes)
        except Exception:
            log.exception("the dead-letter queue %s of %s refused the event", target, function.function_name)

    def log_group(self, function: Any) -> str:
        """Return the log group a function writes to: its ``LoggingConfig.LogGroup``, else ``/aws/lambda/<name>``.

        Args:
            function: moto's function.

        Returns:
            The log group name.
        """
        return self.log_groups.get(str(function.function_arn)) or f"/aws/lambda/{function.function_name}"

    def _send_to_dlq(self, target: str, body: str, attributes: dict[str, str]) -> None:
        if target.split(":")[2] != "sqs":
            raise CloudError("InvalidParameterValueException", f"only SQS dead-letter queues are served: {target}")
        _moto.sqs_send(self.account, target, body, attributes)

    def _run(self, function: Any, event: Any, *, request_id: str | None = None) -> InvokeResult:
        request_id = request_id or str(uuid.uuid4())
        runtime = str(function.run_time or "")
        if not runtime.startswith("python"):
            raise CloudError(
                "InvalidRuntimeException",
                f"The local Lambda runs Python functions only, not {runtime or 'this runtime'}.",
            )
        region = str(function.region)
        timeout = float(function.timeout or 3)
        memory = int(function.memory_size or 128)
        check_trust(
            self.identities, self.account, function
        )  # a role Lambda may no longer assume stops every invocation, warm or not
        arn = str(function.function_arn)
        worker = self._pool.take(arn, config_key(function), timeout=timeout, start=lambda: self._start(function))
        request = {
            "event": event,
            "function_name": function.function_name,
            "function_arn": arn,
            "memory": memory,
            "request_id": request_id,
            "log_stream": worker.stream,
            "log_group": self.log_group(function),
            "timeout": timeout,
        }
        started = time.monotonic()
        try:
            outcome = worker.invoke(request, timeout=timeout, memory_mb=memory)
        finally:
            self._pool.give_back(arn, worker)
        elapsed_ms = (time.monotonic() - started) * 1000
        result, output = outcome.result, outcome.output
        if outcome.timed_out:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
            message = f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds"
            output += message + "\n"
            result = {"ok": False, "error": {"errorMessage": message, "errorType": "Sandbox.Timedout"}}
        elif outcome.out_of_memory:
            message = f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
            output += message + "\n"
            result = {"ok": False, "error": {"errorMessage": message, "errorType": "Runtime.OutOfMemory"}}
        elif result is None:
            error = {"errorMessage": "Runtime exited without providing a reason", "errorType": "Runtime.ExitError"}
            result = {"ok": False, "error": error}
        lines = [f"START RequestId: {request_id} Version: $LATEST", *output.splitlines()]
        lines.append(f"END RequestId: {request_id}")
        lines.append(
            f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\tBilled Duration: "
            f"{int(elapsed_ms) + 1} ms\tMemory Size: {memory} MB\tMax Memory Used: {outcome.max_memory_mb} MB"
        )
        try:
            stamp_ms = _moto.now_ms()
            self.log_sink(
                self.account, region, self.log_group(function), worker.stream,
                [(stamp_ms, line) for line in lines],
            )  # fmt: skip
        except Exception:
            log.exception("could not write the log of %s", function.function_name)
        text = "\n".join(lines) + "\n"
        if result.get("ok"):
            return InvokeResult(json.dumps(result.get("payload")).encode(), None, text, request_id)
        return InvokeResult(json.dumps(result.get("error")).encode(), "Unhandled", text, request_id)

    def _start(self, function: Any) -> Worker:
        """Start an execution environment: unpack the code, assume the role, start the worker."""
        code_dir, paths = self._code.unpack(function)
        group = self.log_group(function)
        custom = "" if group == f"/aws/lambda/{function.function_name}" else str(function.function_name)
        stream = f"{datetime.now(UTC):%Y/%m/%d}/{custom}[$LATEST]{uuid.uuid4().hex}"
        credentials, expires = assume_execution_role(self.identities, self.account, function)
        ca_file = self.ca_bundle() if self.ca_bundle is not None else None
        env = worker_environment(
            function, stream=stream, log_group=group, paths=paths, credentials=credentials,
            endpoint=self.endpoint(), ca_file=ca_file,
        )  # fmt: skip
        return Worker.start(
            handler=str(function.handler), cwd=code_dir, env=env, key=config_key(function), expires=expires,
            scratch=Path(tempfile.mkdtemp(dir=self._root)), stream=stream,
        )  # fmt: skip
