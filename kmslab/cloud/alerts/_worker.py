"""The Lambda worker: run one handler once, in its own process (standard library only).

Usage: ``python _worker.py <handler> <request.json> <result.json>``. The function's code and layer
folders come first on ``sys.path`` (``KMSLAB_LAMBDA_PATH``, like /var/task then /opt/python).
The handler's printed output and log lines go to stderr (the invocation's log); the result file
gets ``{"ok": true, "payload": ...}`` or ``{"ok": false, "error": {...}}`` as Lambda reports them.
"""

import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path


class _Context:
    def __init__(self, request: dict) -> None:  # type: ignore[type-arg]
        self.function_name = request["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = request["function_arn"]
        self.memory_limit_in_mb = int(request["memory"])
        self.aws_request_id = request["request_id"]
        self.log_group_name = "/aws/lambda/" + self.function_name
        self.log_stream_name = request["log_stream"]
        self._deadline = time.monotonic() + float(request["timeout"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> int:
    handler_name, request_file, result_file = sys.argv[1:4]
    for folder in reversed(os.environ.pop("KMSLAB_LAMBDA_PATH", "").split(os.pathsep)):
        if folder:
            sys.path.insert(0, folder)
    request = json.loads(Path(request_file).read_text(encoding="utf-8"))
    sys.stdout = sys.stderr  # what the handler prints belongs in its log
    try:
        module_name, _, function_name = handler_name.rpartition(".")
        handler = getattr(importlib.import_module(module_name.replace("/", ".")), function_name)
        payload = handler(request["event"], _Context(request))
        result = {"ok": True, "payload": payload}
    except Exception as exc:  # reported to the caller as Lambda reports an unhandled error
        stack = traceback.format_exception(type(exc), exc, exc.__traceback__)
        sys.stderr.write("".join(stack))
        result = {
            "ok": False,
            "error": {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": request["request_id"],
                "stackTrace": [line.rstrip("\n") for line in traceback.format_tb(exc.__traceback__)],
            },
        }
    try:
        text = json.dumps(result)
    except (TypeError, ValueError) as exc:
        text = json.dumps(
            {
                "ok": False,
                "error": {"errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError"},
            }
        )
    Path(result_file).write_text(text, encoding="utf-8")
    sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
