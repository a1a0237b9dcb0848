"""Metric filters to datapoints, and CloudWatch alarm evaluation with AWS's missing-data rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from kmslab.cloud.logs import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    AlarmRecord,
    Datapoint,
    InvalidParameterException,
    InvalidParameterValueException,
    LogEvent,
    LogsStore,
    MetricAlarm,
    MetricFilter,
    Transition,
    alarm_notification,
    evaluate,
    statistic,
)

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _record(message: str, source: str = "kms.amazonaws.com") -> str:
    return json.dumps({"eventSource": source, "eventName": "Decrypt", "errorMessage": message, "bytes": 12})


def test_metric_value_literal_selector_and_default() -> None:
    counting = MetricFilter.create(
        name="n",
        log_group="g",
        pattern='{ $.eventName = "Decrypt" }',
        transformations=[{"metricName": "Calls", "metricNamespace": "NS", "metricValue": "1", "defaultValue": 0}],
    )
    events = [LogEvent(T0, _record("x")), LogEvent(T0, "not json"), LogEvent(T0, json.dumps({"eventName": "Encrypt"}))]
    assert [p.value for p in counting.apply(events)] == [1.0, 0.0, 0.0]
    selecting = MetricFilter.create(
        name="n",
        log_group="g",
        pattern="{ $.bytes > 0 }",
        transformations=[{"MetricName": "Bytes", "MetricNamespace": "NS", "MetricValue": "$.bytes"}],
    )
    assert [p.value for p in selecting.apply(events)] == [12.0]
    # a selected value that is not a number publishes nothing
    text = MetricFilter.create(
        name="n",
        log_group="g",
        pattern="{ $.eventName = * }",
        transformations=[{"metricName": "M", "metricNamespace": "NS", "metricValue": "$.eventName"}],
    )
    assert text.apply(events) == []


def test_dimensions_come_from_the_matched_event() -> None:
    metric_filter = MetricFilter.create(
        name="n",
        log_group="g",
        pattern="{ $.eventName = * }",
        transformations=[
            {"metricName": "M", "metricNamespace": "NS", "metricValue": "1", "dimensions": {"Op": "$.eventName"}}
        ],
    )
    (point,) = metric_filter.apply([LogEvent(T0, _record("x"))])
    assert point.dimensions == (("Op", "Decrypt"),)


@pytest.mark.parametrize(
    "transformation",
    [
        {"metricName": "M", "metricNamespace": "NS", "metricValue": "one"},
        {"metricName": "M:x", "metricNamespace": "NS", "metricValue": "1"},
        {"metricName": "M", "metricNamespace": "NS", "metricValue": "1", "defaultValue": 0, "dimensions": {"a": "$.a"}},
    ],
)
def test_malformed_transformations_are_refused(transformation: dict[str, object]) -> None:
    with pytest.raises(InvalidParameterException):
        MetricFilter.create(name="n", log_group="g", pattern="", transformations=[transformation])


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Sum", 6.0), ("Average", 2.0), ("Maximum", 3.0), ("Minimum", 1.0), ("SampleCount", 3.0)],
)
def test_statistics(name: str, expected: float) -> None:
    assert statistic(name, [1.0, 2.0, 3.0]) == expected


def _alarm(**overrides: object) -> MetricAlarm:
    props: dict[str, object] = {
        "AlarmName": "a",
        "Namespace": "NS",
        "MetricName": "M",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 3,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "AlarmActions": ["arn:aws:sns:us-east-1:111122223333:t"],
    } | overrides
    return MetricAlarm.from_properties(props)


def _points(pattern: str) -> list[Datapoint]:
    """Datapoints for a pattern of periods, oldest first: X breaching, 0 not breaching, - missing."""
    points = []
    for i, mark in enumerate(pattern.split()):
        if mark != "-":
            when = T0 + timedelta(minutes=i, seconds=5)
            points.append(Datapoint("NS", "M", when, 5.0 if mark == "X" else 0.0))
    return points


# AWS's table "How alarm state is evaluated when data is missing" (3 of 3, three periods evaluated).
@pytest.mark.parametrize(
    ("periods", "missing", "ignore", "breaching", "not_breaching"),
    [
        ("0 - X", OK, OK, OK, OK),
        ("- - 0", OK, OK, OK, OK),
        ("- - -", INSUFFICIENT_DATA, "kept", ALARM, OK),
        ("X X -", ALARM, ALARM, ALARM, OK),
        ("- X -", ALARM, ALARM, ALARM, OK),
        ("X X X", ALARM, ALARM, ALARM, ALARM),
    ],
)
def test_missing_data_treatment(periods: str, missing: str, ignore: str, breaching: str, not_breaching: str) -> None:
    now = T0 + timedelta(minutes=2, seconds=30)
    for treat, expected in (
        ("missing", missing),
        ("ignore", ignore),
        ("breaching", breaching),
        ("notBreaching", not_breaching),
    ):
        state, reason, data = evaluate(_alarm(TreatMissingData=treat), _points(periods), state=OK, now=now)
        assert state == (OK if expected == "kept" else expected), (treat, periods)
        assert reason
        assert json.loads(data)["threshold"] == 1.0


def test_datapoints_to_alarm_m_out_of_n() -> None:
    now = T0 + timedelta(minutes=2, seconds=30)
    alarm = _alarm(DatapointsToAlarm=2)
    assert evaluate(alarm, _points("X 0 X"), state=OK, now=now)[0] == ALARM
    assert evaluate(alarm, _points("X 0 0"), state=ALARM, now=now)[0] == OK


def test_other_metrics_and_old_periods_are_not_evaluated() -> None:
    now = T0 + timedelta(minutes=10)
    alarm = _alarm(EvaluationPeriods=1, DatapointsToAlarm=1, TreatMissingData="notBreaching")
    stale = _points("X X X")
    other = [Datapoint("NS", "Other", now, 9.0), Datapoint("NS", "M", now, 9.0, (("d", "v"),))]
    assert evaluate(alarm, stale + other, state=ALARM, now=now)[0] == OK


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"Statistic": "p99"}, "Statistic"),
        ({"Period": 45}, "Period"),
        ({"DatapointsToAlarm": 4}, "DatapointsToAlarm"),
        ({"ComparisonOperator": "Equal"}, "ComparisonOperator"),
        ({"TreatMissingData": "sometimes"}, "TreatMissingData"),
    ],
)
def test_malformed_alarms_are_refused(override: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidParameterValueException, match=message):
        _alarm(**override)


def test_record_starts_insufficient_and_reports_each_change_once() -> None:
    record = AlarmRecord(_alarm(EvaluationPeriods=1, DatapointsToAlarm=1, TreatMissingData="notBreaching"))
    assert record.state == INSUFFICIENT_DATA
    first = record.evaluate([], now=T0)
    assert first is not None and (first.old_state, first.new_state, first.actions) == (INSUFFICIENT_DATA, OK, ())
    assert record.evaluate([], now=T0 + timedelta(minutes=1)) is None
    up = record.evaluate([Datapoint("NS", "M", T0 + timedelta(minutes=2), 1.0)], now=T0 + timedelta(minutes=2))
    assert up is not None and up.new_state == ALARM
    assert up.actions == ("arn:aws:sns:us-east-1:111122223333:t",)
    assert "Threshold Crossed" in up.reason
    assert [t.new_state for t in record.history] == [OK, ALARM]


def test_the_kits_filter_and_alarm_go_to_alarm_on_a_refused_call_and_notify_the_topic() -> None:
    from tests.cloud.logs.kit import TOPIC_ARN, resource

    metric_filter = resource("KmslabAlerting", "AWS::Logs::MetricFilter")
    alarm = resource("KmslabAlerting", "AWS::CloudWatch::Alarm", "PendingDeletion")
    notified: list[Transition] = []
    backend = LogsStore(on_transition=notified.append).backend("111122223333", "us-east-1")
    backend.put_metric_filter(
        log_group="kmslab-trail-logs",
        name="PendingDeletionErrorFilter",
        pattern=metric_filter["FilterPattern"],
        transformations=metric_filter["MetricTransformations"],
    )
    record = backend.put_metric_alarm(alarm)
    assert record.state == INSUFFICIENT_DATA
    # no data, treated as not breaching: OK (no OK actions on the kit's alarm, so no notification)
    assert [t.new_state for t in backend.evaluate_alarms(T0)] == [OK]
    assert notified == []
    # an unrelated error does not count
    backend.put_log_events("kmslab-trail-logs", [LogEvent(T0, _record(f"{KEY} is disabled."))])
    assert backend.evaluate_alarms(T0 + timedelta(seconds=1)) == []
    points = backend.put_log_events("kmslab-trail-logs", [LogEvent(T0, _record(f"{KEY} is pending deletion."))])
    assert [(p.namespace, p.metric_name, p.value) for p in points] == [
        ("CloudTrailLogMetrics", "KMSKeyPendingDeletionErrorCount", 1.0)
    ]
    (transition,) = backend.evaluate_alarms(T0 + timedelta(seconds=2))
    assert (transition.old_state, transition.new_state) == (OK, ALARM)
    assert notified == [transition] and transition.actions == (TOPIC_ARN,)
    subject, message = alarm_notification(transition, account="111122223333", region="us-east-1")
    assert subject == 'ALARM: "kmslab-KMSKeyPendingDeletionErrorAlarm" in US East (N. Virginia)'
    body = json.loads(message)
    assert (body["NewStateValue"], body["OldStateValue"]) == ("ALARM", "OK")
    assert body["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:111122223333:alarm:kmslab-KMSKeyPendingDeletionErrorAlarm"
    assert body["AlarmDescription"] == alarm["AlarmDescription"]
    assert body["Trigger"]["MetricName"] == "KMSKeyPendingDeletionErrorCount"
    assert body["Trigger"]["Threshold"] == 1.0 and body["Trigger"]["Period"] == 300
    assert body["NewStateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [1.0")
    # a log group without the filter publishes nothing
    assert backend.put_log_events("other", [LogEvent(T0, _record(f"{KEY} is pending deletion."))]) == []
    # five minutes later the period has no data: back to OK
    assert [t.new_state for t in backend.evaluate_alarms(T0 + timedelta(minutes=6))] == [OK]


def test_store_operations_and_their_errors() -> None:
    from kmslab.cloud.logs import ResourceNotFoundException

    backend = LogsStore().backend("111122223333", "us-east-1")
    backend.put_metric_filter(
        log_group="g",
        name="f",
        pattern="ERROR",
        transformations=[{"metricName": "M", "metricNamespace": "NS", "metricValue": "1"}],
    )
    assert [f.name for f in backend.describe_metric_filters(log_group="g")] == ["f"]
    backend.delete_metric_filter(log_group="g", name="f")
    with pytest.raises(ResourceNotFoundException):
        backend.delete_metric_filter(log_group="g", name="f")
    record = backend.put_metric_alarm(_props())
    backend.evaluate_alarms(T0)
    assert record.state == ALARM
    updated = backend.put_metric_alarm({**_props(), "Threshold": 5})
    assert updated is record and record.state == ALARM and record.alarm.threshold == 5.0  # an update keeps the state
    backend.delete_alarms(["a"])
    with pytest.raises(ResourceNotFoundException):
        backend.delete_alarms(["a"])


def _props() -> dict[str, object]:
    return {
        "AlarmName": "a",
        "Namespace": "NS",
        "MetricName": "M",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "breaching",
    }
