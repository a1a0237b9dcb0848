"""The Lambda worker: one execution environment, reused across invocations (standard library only).

Usage: ``python _worker.py <handler>``, started in the function's code folder with its environment.
The function's code and layer folders come first on ``sys.path`` (``KMSLAB_LAMBDA_PATH``, like
/var/task then /opt/python). The worker then serves invocations one at a time, as a Lambda
execution environment does: each request is one JSON line on stdin; before running it, the
worker points its stdout and stderr (file descriptors 1 and 2, so C code and child processes
too) at the invocation's log file; the handler module is imported on the first request (the
INIT phase, whose output belongs to that invocation's log) and kept for the next ones, so module
state (clients, caches) survives between invocations as on AWS. The answer is one JSON line on
the protocol pipe (the original stdout): ``{"ok": true, "payload": ...}`` or
``{"ok": false, "error": {...}}`` as Lambda reports them, with ``max_rss_kib``. An import that
fails is reported, then the worker exits (the next invocation starts a fresh one).
"""

import importlib
import json
import os
import resource
import sys
import time
import traceback


class _Context:
    def __init__(self, request: dict) -> None:  # type: ignore[type-arg]
        self.function_name = request["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = request["function_arn"]
        self.memory_limit_in_mb = int(request["memory"])
        self.aws_request_id = request["request_id"]
        self.log_group_name = request.get("log_group") or "/aws/lambda/" + self.function_name
        self.log_stream_name = request["log_stream"]
        self._deadline = time.monotonic() + float(request["timeout"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(exc: BaseException, request_id: str, error_type: str = "") -> dict:  # type: ignore[type-arg]
    stack = traceback.format_exception(type(exc), exc, exc.__traceback__)
    sys.stderr.write("".join(stack))
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id,
        "stackTrace": [line.rstrip("\n") for line in traceback.format_tb(exc.__traceback__)],
    }


def _point_output_at(path: str) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    target = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(target, 1)
    os.dup2(target, 2)
    os.close(target)


def _answer(protocol, result: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    try:
        text = json.dumps(result)
    except (TypeError, ValueError) as exc:
        text = json.dumps(
            {
                "ok": False,
                "error": {"errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError"},
            }
        )
    sys.stdout.flush()
    sys.stderr.flush()
    protocol.write(text.encode("utf-8") + b"\n")
    protocol.flush()


def main() -> int:
    handler_name = sys.argv[1]
    for folder in reversed(os.environ.pop("KMSLAB_LAMBDA_PATH", "").split(os.pathsep)):
        if folder:
            sys.path.insert(0, folder)
    protocol = os.fdopen(os.dup(1), "wb")  # the answers; fd 1 itself becomes the invocation's log
    requests = os.fdopen(os.dup(0), "rb")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.stdout = sys.stderr  # what the handler prints belongs in its log
    handler = None
    for line in requests:
        request = json.loads(line)
        _point_output_at(request["log_file"])
        if handler is None:
            try:
                module_name, _, function_name = handler_name.rpartition(".")
                handler = getattr(importlib.import_module(module_name.replace("/", ".")), function_name)
            except Exception as exc:  # Lambda: Runtime.ImportModuleError, and the environment is discarded
                error = _error(exc, request["request_id"], "Runtime.ImportModuleError")
                error["errorMessage"] = f"Unable to import module '{module_name}': {exc}"
                _answer(protocol, {"ok": False, "error": error, "fatal": True})
                return 1
        try:
            payload = handler(request["event"], _Context(request))
            result = {"ok": True, "payload": payload}
        except Exception as exc:  # reported to the caller as Lambda reports an unhandled error
            result = {"ok": False, "error": _error(exc, request["request_id"])}
        result["max_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        _answer(protocol, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
