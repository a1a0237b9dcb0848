"""Run Python functions stored in moto's Lambda backend: Invoke, sync and async.

moto stores the function (code zip, handler, environment, timeout, layers) but would run it in
Docker. Here the zip and its layers are unpacked once per code digest into a private temporary
folder, and each invocation runs the handler in a worker subprocess (``_worker.py``) with:

* the function's environment plus Lambda's reserved variables;
* temporary credentials of the execution role, issued by the cloud's identities after the role's
  trust policy lets ``lambda.amazonaws.com`` assume it, so every call the function makes is signed
  as that role and judged by IAM and key policies;
* ``AWS_ENDPOINT_URL`` (and ``AWS_CA_BUNDLE``) pointing at the local cloud;
* the function's timeout (the worker is killed, and the invocation fails as "Task timed out").

The invocation's output goes to CloudWatch Logs (moto) under ``/aws/lambda/<name>``, between
START / END / REPORT lines. An asynchronous invocation that fails is retried
``MaximumRetryAttempts`` times (EventInvokeConfig, default 2) and then sent to the function's
dead-letter queue (``DeadLetterConfig.TargetArn``) with the ``RequestID``, ``ErrorCode`` and
``ErrorMessage`` attributes AWS sets (Lambda Developer Guide, "Dead-letter queues"). AWS waits a
minute, then two, between retries; locally the retries follow at once. The memory limit is not
enforced.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
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
from kmslab.cloud.errors import CloudError
from kmslab.iam import CloudIdentities, evaluate_policy
from kmslab.kms.errors import KmsError
from kmslab.kms.policy import parse_policy, request_context
from kmslab.kms.seams import AuthorizationRequest, Caller

log = logging.getLogger(__name__)

SERVICE = "lambda.amazonaws.com"
_WORKER = Path(__file__).with_name("_worker.py")
_DEFAULT_ASYNC_RETRIES = 2
_SESSION_SECONDS = 3600
#: host variables a worker keeps (everything else of the cloud's environment stays out)
_KEEP = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT", "TMPDIR")

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
    """

    def __init__(
        self,
        *,
        identities: CloudIdentities,
        account: str,
        endpoint: Callable[[], str],
        ca_bundle: Callable[[], str | None] | None = None,
        log_sink: LogSink | None = None,
    ) -> None:
        self.identities = identities
        self.account = account
        self.endpoint = endpoint
        self.ca_bundle = ca_bundle
        self.log_sink: LogSink = log_sink or _moto.logs_put
        self.dead_letters: dict[str, str] = {}
        self._root = Path(tempfile.mkdtemp(prefix="kmslab-lambda-"))
        self._code = CodeCache(self._root, account)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kmslab-lambda-async")
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
        self._pool.submit(self._run_async, function, event, request_id)
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
        """Drop queued async invocations, wait for running ones, then delete the unpacked code."""
        self._pool.shutdown(wait=True, cancel_futures=True)
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
        code_dir, paths = self._code.unpack(function)
        now = datetime.now(UTC)
        stream = f"{now:%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        env = self._environment(function, region, stream, paths)
        timeout = float(function.timeout or 3)
        request = {
            "event": event,
            "function_name": function.function_name,
            "function_arn": function.function_arn,
            "memory": function.memory_size,
            "request_id": request_id,
            "log_stream": stream,
            "timeout": timeout,
        }
        with tempfile.TemporaryDirectory(dir=self._root) as scratch:
            request_file = Path(scratch) / "request.json"
            result_file = Path(scratch) / "result.json"
            request_file.write_text(json.dumps(request), encoding="utf-8")
            started = time.monotonic()
            timed_out = False
            try:
                done = subprocess.run(  # noqa: S603 - our own worker, argv without a shell
                    [sys.executable, str(_WORKER), str(function.handler), str(request_file), str(result_file)],
                    cwd=code_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    check=False,
                )
                output = done.stdout.decode("utf-8", "replace")
            except subprocess.TimeoutExpired as exc:
                timed_out = True
                output = (exc.stdout or b"").decode("utf-8", "replace")
            elapsed_ms = (time.monotonic() - started) * 1000
            result = json.loads(result_file.read_text(encoding="utf-8")) if result_file.is_file() else None
        if timed_out:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
            message = f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds"
            output += message + "\n"
            result = {"ok": False, "error": {"errorMessage": message, "errorType": "Sandbox.Timedout"}}
        elif result is None:
            result = {
                "ok": False,
                "error": {
                    "errorMessage": "Runtime exited without providing a reason",
                    "errorType": "Runtime.ExitError",
                },
            }
        lines = [f"START RequestId: {request_id} Version: $LATEST", *output.splitlines()]
        lines.append(f"END RequestId: {request_id}")
        lines.append(
            f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\tBilled Duration: "
            f"{int(elapsed_ms) + 1} ms\tMemory Size: {function.memory_size} MB"
        )
        stamp_ms = _moto.now_ms()
        try:
            self.log_sink(
                self.account,
                region,
                f"/aws/lambda/{function.function_name}",
                stream,
                [(stamp_ms, line) for line in lines],
            )
        except Exception:
            log.exception("could not write the log of %s", function.function_name)
        text = "\n".join(lines) + "\n"
        if result.get("ok"):
            return InvokeResult(json.dumps(result.get("payload")).encode(), None, text, request_id)
        return InvokeResult(json.dumps(result.get("error")).encode(), "Unhandled", text, request_id)

    # -- code, credentials, environment ---------------------------------------------------------

    def credentials(self, function: Any, region: str) -> dict[str, str]:
        """Assume the function's execution role, as Lambda does, for one invocation.

        Args:
            function: moto's function.
            region: the Region.

        Returns:
            ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``.

        Raises:
            CloudError: the role does not exist or its trust policy does not let Lambda assume it.
        """
        role = self.identities.role(str(function.role))
        refused = CloudError(
            "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.", 400
        )
        if role is None:
            raise refused
        service = Caller(arn=SERVICE, account=self.account, identity_type="AWSService", principal_id=SERVICE)
        decided = evaluate_policy(
            role.trust_policy,
            source="trust policy",
            caller=service,
            action="sts:AssumeRole",
            resource=role.arn,
            context={},
        )
        if decided.denies or not decided.allows:
            raise refused
        session = self.identities.start_session(
            role,
            session_name=str(function.function_name)[:64],
            duration=min(_SESSION_SECONDS, role.max_session_seconds),
            now=datetime.now(UTC),
            source_identity=SERVICE,
        )
        return {
            "AWS_ACCESS_KEY_ID": session.access_key_id,
            "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
            "AWS_SESSION_TOKEN": session.session_token,
        }

    def _environment(self, function: Any, region: str, stream: str, paths: list[Path]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in _KEEP}
        env.update({str(k): str(v) for k, v in (function.environment_vars or {}).items()})
        env.update(self.credentials(function, region))
        env.update(
            {
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                "AWS_ENDPOINT_URL": self.endpoint(),
                "AWS_LAMBDA_FUNCTION_NAME": str(function.function_name),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": stream,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
                "_HANDLER": str(function.handler),
                "LAMBDA_TASK_ROOT": str(paths[0]),
                # no profile of the host may leak in: the role's credentials are the only ones
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "PYTHONDONTWRITEBYTECODE": "1",
                "KMSLAB_LAMBDA_PATH": os.pathsep.join(str(p) for p in paths),
            }
        )
        ca_file = self.ca_bundle() if self.ca_bundle is not None else None
        if ca_file:
            env["AWS_CA_BUNDLE"] = ca_file
        return env
