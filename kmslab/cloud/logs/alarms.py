"""CloudWatch metric alarms: datapoints in, state transitions (and their actions) out.

Semantics after the CloudWatch User Guide, "Using Amazon CloudWatch alarms" and "Configuring how
CloudWatch alarms treat missing data":

* a new alarm starts in ``INSUFFICIENT_DATA``;
* each evaluation looks at the last ``EvaluationPeriods`` periods (aligned on multiples of
  ``Period`` since the epoch, the newest being the one that holds ``now``), computes the statistic
  of each, and counts the breaching ones; ``DatapointsToAlarm`` of them (default: all) make ALARM;
* missing periods count as breaching (``breaching``), as good (``notBreaching``), or are left
  out (``missing``, ``ignore``). When every period is missing, ``missing`` goes to
  ``INSUFFICIENT_DATA`` and ``ignore`` keeps the current state;
* when fewer periods have data than ``DatapointsToAlarm`` and all of them breach, the alarm goes
  to ALARM (AWS's "partial data" rule, from its missing-data table), else OK.

A state change calls the action callback with the alarm's actions for the new state
(``AlarmActions``, ``OKActions``, ``InsufficientDataActions``) when ``ActionsEnabled``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kmslab.cloud.logs.errors import InvalidParameterValueException
from kmslab.cloud.logs.metrics import Datapoint

OK = "OK"
ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_OPERATORS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}
TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")


@dataclass(frozen=True)
class MetricAlarm:
    """A metric alarm's definition (PutMetricAlarm / ``AWS::CloudWatch::Alarm``).

    Args:
        name: AlarmName.
        namespace: the metric's namespace.
        metric_name: the metric's name.
        statistic: one of :data:`STATISTICS`.
        period: seconds per period (10, 30 or a multiple of 60).
        evaluation_periods: how many periods are evaluated.
        threshold: the threshold.
        comparison_operator: one of the four threshold operators.
        datapoints_to_alarm: breaching periods needed for ALARM (default: ``evaluation_periods``).
        treat_missing_data: one of :data:`TREAT_MISSING` (default ``missing``).
        dimensions: the metric's dimensions, sorted.
        alarm_actions: ARNs notified on ALARM.
        ok_actions: ARNs notified on OK.
        insufficient_data_actions: ARNs notified on INSUFFICIENT_DATA.
        actions_enabled: whether actions run.
        description: AlarmDescription.
    """

    name: str
    namespace: str
    metric_name: str
    statistic: str
    period: int
    evaluation_periods: int
    threshold: float
    comparison_operator: str
    datapoints_to_alarm: int | None = None
    treat_missing_data: str = "missing"
    dimensions: tuple[tuple[str, str], ...] = ()
    alarm_actions: tuple[str, ...] = ()
    ok_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    actions_enabled: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        if not 1 <= len(self.name) <= 255:
            raise InvalidParameterValueException("AlarmName must be 1 to 255 characters")
        if self.statistic not in STATISTICS:
            raise InvalidParameterValueException(f"Statistic must be one of {', '.join(STATISTICS)}")
        if self.period not in (10, 20, 30) and (self.period < 60 or self.period % 60):
            raise InvalidParameterValueException("Period must be 10, 20, 30 or a multiple of 60")
        if self.evaluation_periods < 1:
            raise InvalidParameterValueException("EvaluationPeriods must be at least 1")
        m = self.required
        if not 1 <= m <= self.evaluation_periods:
            raise InvalidParameterValueException("DatapointsToAlarm must be between 1 and EvaluationPeriods")
        if self.comparison_operator not in _OPERATORS:
            raise InvalidParameterValueException(f"Unsupported ComparisonOperator {self.comparison_operator}")
        if self.treat_missing_data not in TREAT_MISSING:
            raise InvalidParameterValueException(f"TreatMissingData must be one of {', '.join(TREAT_MISSING)}")

    @property
    def required(self) -> int:
        """The number of breaching periods that make ALARM."""
        return self.datapoints_to_alarm or self.evaluation_periods

    @classmethod
    def from_properties(cls, props: Mapping[str, Any]) -> MetricAlarm:
        """Build from PutMetricAlarm parameters or a CloudFormation ``AWS::CloudWatch::Alarm``'s Properties.

        Args:
            props: the parameters (PascalCase, as both APIs name them), references resolved.

        Returns:
            The alarm.
        """
        dims = props.get("Dimensions") or []
        return cls(
            name=str(props["AlarmName"]),
            namespace=str(props["Namespace"]),
            metric_name=str(props["MetricName"]),
            statistic=str(props["Statistic"]),
            period=int(props["Period"]),
            evaluation_periods=int(props["EvaluationPeriods"]),
            threshold=float(props["Threshold"]),
            comparison_operator=str(props["ComparisonOperator"]),
            datapoints_to_alarm=int(props["DatapointsToAlarm"]) if props.get("DatapointsToAlarm") else None,
            treat_missing_data=str(props.get("TreatMissingData") or "missing"),
            dimensions=tuple(sorted((str(d["Name"]), str(d["Value"])) for d in dims)),
            alarm_actions=tuple(str(a) for a in props.get("AlarmActions") or ()),
            ok_actions=tuple(str(a) for a in props.get("OKActions") or ()),
            insufficient_data_actions=tuple(str(a) for a in props.get("InsufficientDataActions") or ()),
            actions_enabled=bool(props.get("ActionsEnabled", True)),
            description=str(props.get("AlarmDescription") or ""),
        )

    def actions_for(self, state: str) -> tuple[str, ...]:
        """Return the actions the alarm runs on entering ``state`` (none when actions are disabled)."""
        if not self.actions_enabled:
            return ()
        return {ALARM: self.alarm_actions, OK: self.ok_actions, INSUFFICIENT_DATA: self.insufficient_data_actions}[
            state
        ]

    def selects(self, point: Datapoint) -> bool:
        """Tell whether a datapoint belongs to the alarm's metric."""
        return (point.namespace, point.metric_name, point.dimensions) == (
            self.namespace,
            self.metric_name,
            self.dimensions,
        )


def statistic(name: str, values: Sequence[float]) -> float:
    """Compute a CloudWatch statistic over one period's values.

    Args:
        name: one of :data:`STATISTICS`.
        values: the period's datapoint values (at least one).

    Returns:
        The statistic.
    """
    if name == "SampleCount":
        return float(len(values))
    if name == "Sum":
        return float(sum(values))
    if name == "Average":
        return float(sum(values)) / len(values)
    if name == "Minimum":
        return float(min(values))
    return float(max(values))


@dataclass(frozen=True)
class Transition:
    """An alarm state change, as DescribeAlarmHistory and the SNS notification describe it.

    Args:
        alarm: the alarm.
        old_state: the state before.
        new_state: the state after.
        reason: StateReason.
        reason_data: StateReasonData (JSON text).
        timestamp: when it changed.
        actions: the actions to run (the callback's job).
    """

    alarm: MetricAlarm
    old_state: str
    new_state: str
    reason: str
    reason_data: str
    timestamp: datetime
    actions: tuple[str, ...]


def _fmt(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%d/%m/%y %H:%M:%S")


def _period_values(
    alarm: MetricAlarm, points: Iterable[Datapoint], now: datetime
) -> list[tuple[datetime, float | None]]:
    seconds = alarm.period
    newest_start = int(now.timestamp()) // seconds * seconds
    starts = [newest_start - i * seconds for i in range(alarm.evaluation_periods)][::-1]
    buckets: dict[int, list[float]] = {s: [] for s in starts}
    for point in points:
        if alarm.selects(point):
            start = int(point.timestamp.timestamp()) // seconds * seconds
            if start in buckets:
                buckets[start].append(point.value)
    return [
        (datetime.fromtimestamp(s, UTC), statistic(alarm.statistic, buckets[s]) if buckets[s] else None) for s in starts
    ]


def evaluate(alarm: MetricAlarm, points: Iterable[Datapoint], *, state: str, now: datetime) -> tuple[str, str, str]:
    """Evaluate an alarm once.

    Args:
        alarm: the alarm.
        points: the metric's datapoints (others are ignored).
        state: the alarm's current state.
        now: the evaluation time (timezone-aware).

    Returns:
        ``(new_state, reason, reason_data)``.
    """
    periods = _period_values(alarm, points, now)
    words, breaches = _OPERATORS[alarm.comparison_operator]
    present = [(t, v) for t, v in periods if v is not None]
    missing = len(periods) - len(present)
    data = {
        "version": "1.0",
        "queryDate": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "statistic": alarm.statistic,
        "period": alarm.period,
        "recentDatapoints": [v for _, v in present],
        "threshold": alarm.threshold,
        "evaluatedDatapoints": [
            {"timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.000+0000"), "value": v} for t, v in present
        ],
    }
    if not present and alarm.treat_missing_data in ("missing", "ignore"):
        if alarm.treat_missing_data == "ignore":
            return state, "Missing data ignored: state kept", json.dumps(data)
        reason = f"Insufficient Data: {len(periods)} datapoints were unknown."
        return INSUFFICIENT_DATA, reason, json.dumps(data)
    breaching = [(t, v) for t, v in present if breaches(v, alarm.threshold)]
    count = len(breaching)
    if alarm.treat_missing_data == "breaching":
        count += missing
    judged = len(periods) if alarm.treat_missing_data in ("breaching", "notBreaching") else len(present)
    alarmed = count >= alarm.required or (judged < alarm.required and judged > 0 and count == judged)
    shown = breaching if alarmed else [p for p in present if p not in breaching]
    listed = ", ".join(f"{v} ({_fmt(t)})" for t, v in shown)
    if alarmed:
        reason = (
            f"Threshold Crossed: {count} out of the last {len(periods)} datapoints [{listed}] "
            f"{'was' if count == 1 else 'were'} {words} the threshold ({alarm.threshold}) "
            f"(minimum {alarm.required} datapoint{'s' if alarm.required > 1 else ''} for OK -> ALARM transition)."
        )
        return ALARM, reason, json.dumps(data)
    reason = (
        f"Threshold Crossed: {len(periods) - count} out of the last {len(periods)} datapoints "
        f"{'[' + listed + '] ' if listed else ''}{'was' if len(periods) - count == 1 else 'were'} not {words} "
        f"the threshold ({alarm.threshold}) (minimum 1 datapoint for ALARM -> OK transition)."
    )
    return OK, reason, json.dumps(data)


@dataclass
class AlarmRecord:
    """An alarm with its current state (the model the store keeps).

    Args:
        alarm: the definition.
        state: StateValue.
        reason: StateReason.
        updated: StateUpdatedTimestamp.
        history: past transitions, oldest first.
    """

    alarm: MetricAlarm
    state: str = INSUFFICIENT_DATA
    reason: str = "Unchecked: Initial alarm creation"
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    history: list[Transition] = field(default_factory=list)

    def evaluate(self, points: Iterable[Datapoint], *, now: datetime) -> Transition | None:
        """Evaluate the alarm and record a state change.

        Args:
            points: the metric's datapoints.
            now: the evaluation time.

        Returns:
            The transition, or None when the state stays.
        """
        new_state, reason, reason_data = evaluate(self.alarm, points, state=self.state, now=now)
        if new_state == self.state:
            return None
        transition = Transition(
            self.alarm, self.state, new_state, reason, reason_data, now, self.alarm.actions_for(new_state)
        )
        self.state, self.reason, self.updated = new_state, reason, now
        self.history.append(transition)
        return transition


def lookback(alarm: MetricAlarm) -> timedelta:
    """Return how far back datapoints matter to the alarm (its evaluation range)."""
    return timedelta(seconds=alarm.period * alarm.evaluation_periods)
