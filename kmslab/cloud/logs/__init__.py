"""Local CloudWatch Logs metric filters and CloudWatch metric alarms (cores for the local cloud).

Public API:

* :func:`compile_pattern` / :class:`FilterPattern`: the filter pattern syntax (JSON, terms,
  space-delimited, regex);
* :class:`MetricFilter`, :class:`MetricTransformation`, :class:`LogEvent`, :class:`Datapoint`:
  log events to metric datapoints;
* :class:`MetricAlarm`, :func:`evaluate`, :class:`AlarmRecord`, :class:`Transition`: alarm
  evaluation and state changes;
* :func:`alarm_notification`: the SNS subject and message CloudWatch publishes for a transition;
* :class:`LogsStore` / :class:`LogsBackend`: state per account and Region with the operations
  (PutMetricFilter, PutLogEvents, PutMetricAlarm, evaluation with an action callback);
* :class:`LogsError`: the root of every error, AWS-shaped (``code``, ``status``, ``to_response``).
"""

from __future__ import annotations

from kmslab.cloud.logs.alarms import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    AlarmRecord,
    MetricAlarm,
    Transition,
    evaluate,
    statistic,
)
from kmslab.cloud.logs.errors import (
    InvalidParameterException,
    InvalidParameterValueException,
    LogsError,
    ResourceNotFoundException,
)
from kmslab.cloud.logs.metrics import Datapoint, LogEvent, MetricFilter, MetricTransformation
from kmslab.cloud.logs.models import LogsBackend, LogsStore
from kmslab.cloud.logs.notification import alarm_notification
from kmslab.cloud.logs.patterns import FilterPattern, Match, compile_pattern

__all__ = [
    "ALARM",
    "INSUFFICIENT_DATA",
    "OK",
    "AlarmRecord",
    "Datapoint",
    "FilterPattern",
    "InvalidParameterException",
    "InvalidParameterValueException",
    "LogEvent",
    "LogsBackend",
    "LogsError",
    "LogsStore",
    "Match",
    "MetricAlarm",
    "MetricFilter",
    "MetricTransformation",
    "ResourceNotFoundException",
    "Transition",
    "alarm_notification",
    "compile_pattern",
    "evaluate",
    "statistic",
]
