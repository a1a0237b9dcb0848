"""State per account and Region: log groups' metric filters, metric datapoints, alarms.

The gateway's Logs and CloudWatch handlers call these operations; nothing here knows HTTP. The
alarm action callback is the seam to SNS: it gets each :class:`~kmslab.cloud.logs.alarms.Transition`
whose actions should run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kmslab.cloud.logs.alarms import AlarmRecord, MetricAlarm, Transition, lookback
from kmslab.cloud.logs.errors import ResourceNotFoundException
from kmslab.cloud.logs.metrics import Datapoint, LogEvent, MetricFilter

ActionCallback = Callable[[Transition], None]


@dataclass
class LogsBackend:
    """One account's and Region's metric filters, metrics and alarms.

    Args:
        account: the account ID.
        region: the Region.
        on_transition: called for each alarm state change (publishes to SNS in the gateway).
        retention: how long datapoints are kept past every alarm's evaluation range (the local
            cloud keeps recent metrics only; CloudWatch keeps them for 15 months).
    """

    account: str
    region: str
    on_transition: ActionCallback | None = None
    retention: timedelta = timedelta(days=1)
    filters: dict[str, dict[str, MetricFilter]] = field(default_factory=dict)
    datapoints: list[Datapoint] = field(default_factory=list)
    alarms: dict[str, AlarmRecord] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- Logs ---------------------------------------------------------------------------

    def put_metric_filter(
        self, *, log_group: str, name: str, pattern: str, transformations: Iterable[Mapping[str, Any]]
    ) -> MetricFilter:
        """PutMetricFilter: create or replace a metric filter.

        Args:
            log_group: the log group name.
            name: the filter name.
            pattern: the filter pattern.
            transformations: the metric transformations.

        Returns:
            The filter.

        Raises:
            InvalidParameterException: a malformed pattern or transformation.
        """
        metric_filter = MetricFilter.create(
            name=name, log_group=log_group, pattern=pattern, transformations=transformations
        )
        with self._lock:
            self.filters.setdefault(log_group, {})[name] = metric_filter
        return metric_filter

    def delete_metric_filter(self, *, log_group: str, name: str) -> None:
        """DeleteMetricFilter.

        Raises:
            ResourceNotFoundException: no such filter.
        """
        with self._lock:
            if name not in self.filters.get(log_group, {}):
                raise ResourceNotFoundException("The specified metric filter does not exist.")
            del self.filters[log_group][name]

    def describe_metric_filters(self, *, log_group: str | None = None) -> list[MetricFilter]:
        """DescribeMetricFilters: the filters of one log group, or all of them."""
        with self._lock:
            groups = [log_group] if log_group else sorted(self.filters)
            return [f for g in groups for _, f in sorted(self.filters.get(g, {}).items())]

    def put_log_events(self, log_group: str, events: Iterable[LogEvent]) -> list[Datapoint]:
        """Run delivered events through the log group's metric filters (PutLogEvents' side effect).

        Args:
            log_group: the log group.
            events: the events.

        Returns:
            The datapoints published.
        """
        events = list(events)
        with self._lock:
            points = [p for f in self.filters.get(log_group, {}).values() for p in f.apply(events)]
            self.datapoints.extend(points)
        return points

    def put_metric_data(self, points: Iterable[Datapoint]) -> None:
        """PutMetricData: add datapoints directly."""
        with self._lock:
            self.datapoints.extend(points)

    # -- CloudWatch alarms ----------------------------------------------------------------

    def put_metric_alarm(self, props: Mapping[str, Any]) -> AlarmRecord:
        """PutMetricAlarm: create an alarm (INSUFFICIENT_DATA) or update one (state kept).

        Args:
            props: PutMetricAlarm's parameters.

        Returns:
            The alarm's record.

        Raises:
            InvalidParameterValueException: a malformed alarm.
        """
        alarm = MetricAlarm.from_properties(props)
        with self._lock:
            record = self.alarms.get(alarm.name)
            if record is None:
                record = self.alarms[alarm.name] = AlarmRecord(alarm)
            else:
                record.alarm = alarm
            return record

    def delete_alarms(self, names: Iterable[str]) -> None:
        """DeleteAlarms.

        Raises:
            ResourceNotFoundException: a named alarm does not exist.
        """
        names = list(names)
        with self._lock:
            for name in names:
                if name not in self.alarms:
                    raise ResourceNotFoundException(f"Alarm {name} not found")
            for name in names:
                del self.alarms[name]

    def evaluate_alarms(self, now: datetime | None = None) -> list[Transition]:
        """Evaluate every alarm once, call the action callback for each state change.

        Args:
            now: the evaluation time (default: now).

        Returns:
            The transitions.
        """
        now = now or datetime.now(UTC)
        with self._lock:
            horizon = max([self.retention, *(lookback(r.alarm) for r in self.alarms.values())])
            self.datapoints = [p for p in self.datapoints if p.timestamp >= now - horizon]
            transitions = [t for r in self.alarms.values() if (t := r.evaluate(self.datapoints, now=now)) is not None]
        for transition in transitions:
            if self.on_transition is not None and transition.actions:
                self.on_transition(transition)
        return transitions


@dataclass
class LogsStore:
    """Backends per (account, Region), created on first use.

    Args:
        on_transition: passed to every backend.
    """

    on_transition: ActionCallback | None = None
    backends: dict[tuple[str, str], LogsBackend] = field(default_factory=dict)

    def backend(self, account: str, region: str) -> LogsBackend:
        """Return the backend of one account and Region."""
        key = (account, region)
        if key not in self.backends:
            self.backends[key] = LogsBackend(account, region, self.on_transition)
        return self.backends[key]
