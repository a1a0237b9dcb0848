"""CloudWatch Logs metric filters and metric alarms, run with the Logs core over moto's stored definitions.

moto stores metric filters (PutMetricFilter), log events and alarms (PutMetricAlarm) but never turns
events into datapoints nor evaluates an alarm. Here, records delivered to a log group (PutLogEvents
through the endpoint, a Lambda function's log, or any sender calling :meth:`MetricAlarms.delivered`)
go through the group's metric filters with the Logs core's filter pattern syntax
(:mod:`kmslab.cloud.logs`); the datapoints drive the alarms (evaluated when data arrives and on a
timer, as CloudWatch evaluates each period); each state change is written back to moto's alarm
(DescribeAlarms shows it) and its actions run: an SNS ARN gets CloudWatch's notification, published
as ``cloudwatch.amazonaws.com`` so an encrypted topic's key policy must let CloudWatch use the key.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from kmslab.cloud.alerts import _moto
from kmslab.cloud.alerts.sns import SnsPublisher, service_caller
from kmslab.cloud.logs import LogEvent, LogsError, LogsStore, MetricFilter, Transition, alarm_notification

log = logging.getLogger(__name__)

CLOUDWATCH = "cloudwatch.amazonaws.com"


#: how late a datapoint may arrive and still be evaluated as of its own time (a delivery delay, not a backfill)
LATE_DATA = timedelta(minutes=10)


class MetricAlarms:
    """Metric filters to datapoints to alarm states to actions.

    Args:
        account: the cloud's account.
        publisher: publishes alarm notifications.
        interval: seconds between timed evaluations (0: only when data arrives).
        clock: the cloud's time (default: the wall clock). Datapoints carry their log events' times, which are
            the local clock's once it was moved forward, so alarms are evaluated on that clock too.
    """

    def __init__(
        self,
        *,
        account: str,
        publisher: SnsPublisher,
        interval: float = 10.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.account = account
        self.publisher = publisher
        self._clock = clock or (lambda: datetime.now(UTC))
        self.store = LogsStore(on_transition=self._act)
        self._compiled: dict[tuple[str, str, str, str], MetricFilter] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if interval > 0:
            self._thread = threading.Thread(
                target=self._tick, args=(interval,), name="kmslab-cloudwatch-alarms", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Stop the timed evaluations."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _tick(self, interval: float) -> None:
        while not self._stop.wait(interval):
            for account, region in list(self.store.backends):
                try:
                    self.evaluate(account, region)
                except Exception:
                    log.exception("alarm evaluation failed in %s/%s", account, region)

    def delivered(self, account: str, region: str, group: str, messages: Iterable[tuple[int, str]]) -> int:
        """Run records delivered to a log group through its metric filters, then evaluate the alarms.

        Args:
            account: the account.
            region: the Region.
            group: the log group.
            messages: ``(timestamp in ms, message)`` pairs.

        Returns:
            How many datapoints the filters produced.
        """
        events = [LogEvent(datetime.fromtimestamp(ts / 1000, UTC), message) for ts, message in messages]
        with self._lock:
            backend = self.store.backend(account, region)
            backend.filters[group] = self._filters(account, region, group)
            points = backend.put_log_events(group, events) if backend.filters[group] else []
        if points:
            self._to_moto_metrics(account, region, points)
            newest = max(p.timestamp for p in points)
            now = self._clock()
            if now - LATE_DATA <= newest < now:
                # CloudTrail delivers a few seconds after the call: a datapoint may arrive after its period
                # ended. CloudWatch evaluates alarms with a delay that lets such data count, so evaluate as of
                # the datapoint's time first, then as of now. Older data (a replayed log) fires nothing.
                self.evaluate(account, region, now=newest)
            self.evaluate(account, region, now=now)
        return len(points)

    def _filters(self, account: str, region: str, group: str) -> dict[str, MetricFilter]:
        moto_logs = _moto.backend_or_none("moto.logs.models", "logs_backends", account, region)
        out: dict[str, MetricFilter] = {}
        for stored in moto_logs.filters.get_matching_filters(log_group_name=group) if moto_logs else []:
            transformations = stored["metricTransformations"]
            key = (group, stored["filterName"], stored["filterPattern"], json.dumps(transformations, sort_keys=True))
            compiled = self._compiled.get(key)
            if compiled is None:
                try:
                    compiled = MetricFilter.create(
                        name=stored["filterName"],
                        log_group=group,
                        pattern=stored["filterPattern"],
                        transformations=transformations,
                    )
                except LogsError as exc:
                    log.warning("metric filter %s on %s is not usable: %s", stored["filterName"], group, exc)
                    continue
                self._compiled[key] = compiled
            out[compiled.name] = compiled
        return out

    def _to_moto_metrics(self, account: str, region: str, points: list[Any]) -> None:
        cloudwatch = _moto.backend_or_none("moto.cloudwatch.models", "cloudwatch_backends", account, region)
        if cloudwatch is None:
            return
        for point in points:
            datum: dict[str, Any] = {
                "MetricName": point.metric_name,
                "Value": point.value,
                "Timestamp": point.timestamp,
                "Dimensions": [{"Name": n, "Value": v} for n, v in point.dimensions],
            }
            if point.unit:
                datum["Unit"] = point.unit
            try:
                cloudwatch.put_metric_data(point.namespace, [datum])
            except Exception as exc:  # GetMetricStatistics is a convenience; alarms use the Logs core's datapoints
                log.info("moto refused a datapoint of %s: %s", point.metric_name, exc)

    def evaluate(self, account: str, region: str, now: datetime | None = None) -> list[Transition]:
        """Evaluate every alarm of an account and Region once (its actions run for each change).

        Args:
            account: the account.
            region: the Region.
            now: the evaluation time (default: the cloud's clock).

        Returns:
            The state changes.
        """
        now = now or self._clock()
        cloudwatch = _moto.backend_or_none("moto.cloudwatch.models", "cloudwatch_backends", account, region)
        with self._lock:
            backend = self.store.backend(account, region)
            stored = dict(cloudwatch.alarms) if cloudwatch is not None else {}
            for name in [n for n in backend.alarms if n not in stored]:
                del backend.alarms[name]
            for name, alarm in stored.items():
                if not alarm.metric_name or not alarm.statistic:
                    continue  # metric math and extended statistics are not evaluated locally
                try:
                    record = backend.put_metric_alarm(_props(alarm))
                except LogsError as exc:
                    log.warning("alarm %s is not evaluated: %s", name, exc)
                    continue
                if alarm.state_value != record.state:  # moto starts alarms in OK; CloudWatch in INSUFFICIENT_DATA
                    alarm.update_state(record.reason, "{}", record.state)
            transitions = backend.evaluate_alarms(now)
            for transition in transitions:
                alarm = stored.get(transition.alarm.name)
                if alarm is not None:
                    alarm.update_state(transition.reason, transition.reason_data, transition.new_state)
        return transitions

    def _act(self, transition: Transition) -> None:
        if not transition.alarm.actions_enabled:
            return
        for action in transition.actions:
            parts = action.split(":")
            if len(parts) < 6 or parts[2] != "sns":
                log.warning("alarm %s: action %s is not run locally (SNS only)", transition.alarm.name, action)
                continue
            subject, message = alarm_notification(transition, account=parts[4], region=parts[3])
            # CloudWatch uses the topic's KMS key for the alarm: aws:SourceArn is the alarm, aws:SourceAccount its
            # account, so a key policy can scope cloudwatch.amazonaws.com to them (SNS Developer Guide, "Configure
            # AWS KMS permissions for AWS services").
            alarm_arn = f"arn:aws:cloudwatch:{parts[3]}:{parts[4]}:alarm:{transition.alarm.name}"
            caller = replace(service_caller(CLOUDWATCH, parts[4]), source_arn=alarm_arn)
            try:
                self.publisher.publish(action, message, subject=subject, caller=caller)
            except Exception as exc:  # CloudWatch records a failed action in the alarm history and goes on
                log.warning("alarm %s: publishing to %s failed: %s", transition.alarm.name, action, exc)


def _props(alarm: Any) -> dict[str, Any]:
    return {
        "AlarmName": alarm.name,
        "Namespace": alarm.namespace,
        "MetricName": alarm.metric_name,
        "Statistic": alarm.statistic,
        "Period": alarm.period,
        "EvaluationPeriods": alarm.evaluation_periods,
        "Threshold": alarm.threshold,
        "ComparisonOperator": alarm.comparison_operator,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "TreatMissingData": alarm.treat_missing_data,
        "Dimensions": [{"Name": d.name, "Value": d.value} for d in alarm.dimensions],
        "AlarmActions": alarm.alarm_actions or [],
        "OKActions": alarm.ok_actions,
        "InsufficientDataActions": alarm.insufficient_data_actions,
        "ActionsEnabled": alarm.actions_enabled,
        "AlarmDescription": alarm.description,
    }
