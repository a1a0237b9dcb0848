"""CloudWatch Logs behind the gateway: moto stores, the Logs core checks patterns and runs metric filters."""

from __future__ import annotations

import json
from typing import Any

from kmslab.cloud.alerts.alarms import MetricAlarms
from kmslab.cloud.errors import CloudError
from kmslab.cloud.gateway.request import Call, Incoming, Outgoing
from kmslab.cloud.logs import LogsError, compile_pattern
from kmslab.cloud.services._front import MotoFront


class LogsService(MotoFront):
    """The gateway's Logs module.

    Args:
        moto: the moto-served Logs module (``MotoService``).
        alarms: runs metric filters and alarms on delivered records.
    """

    protocol = "json"

    def __init__(self, moto: Any, alarms: MetricAlarms) -> None:
        super().__init__(moto)
        self.alarms = alarms

    def handle(self, request: Incoming, call: Call) -> Outgoing:  # noqa: D102 - MotoFront.handle
        operation = request.headers.get("x-amz-target", "").rsplit(".", 1)[-1]
        body: Any = None
        if operation in ("PutMetricFilter", "PutLogEvents"):
            try:
                body = json.loads(request.body() or b"{}")
            except ValueError:
                body = None
        if operation == "PutMetricFilter" and isinstance(body, dict):
            self.moto.bridge.check_iam("logs", request, call)
            try:  # moto accepts any text; CloudWatch Logs refuses a pattern it cannot parse
                compile_pattern(str(body.get("filterPattern", "")))
            except LogsError as exc:
                raise CloudError("InvalidParameterException", f"Invalid metric filter pattern: {exc}", 400) from None
        out = self.by_moto(request, call)
        if operation == "PutLogEvents" and out.status < 300 and isinstance(body, dict):
            events = body.get("logEvents") or []
            self.alarms.delivered(
                self.moto.bridge.account,
                call.region,
                str(body.get("logGroupName", "")),
                [(int(e.get("timestamp", 0)), str(e.get("message", ""))) for e in events if isinstance(e, dict)],
            )
        return out


class CloudWatchService(MotoFront):
    """The gateway's CloudWatch module: moto answers; alarms are evaluated around each request.

    Evaluating before a request makes DescribeAlarms show the current state; after it, a new or
    changed alarm (PutMetricAlarm) leaves moto's initial ``OK`` for CloudWatch's ``INSUFFICIENT_DATA``
    and is judged on the data already there.

    Args:
        moto: the moto-served CloudWatch module (``MotoService``).
        alarms: the alarm evaluator.
    """

    def __init__(self, moto: Any, alarms: MetricAlarms) -> None:
        super().__init__(moto)
        self.alarms = alarms
        self.protocol = moto.protocol

    def handle(self, request: Incoming, call: Call) -> Outgoing:  # noqa: D102 - MotoFront.handle
        account = self.moto.bridge.account
        self.alarms.evaluate(account, call.region)
        out = self.by_moto(request, call)
        if out.status < 300:
            self.alarms.evaluate(account, call.region)
        return out
