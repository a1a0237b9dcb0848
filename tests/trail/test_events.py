"""Records reach subscribers as EventBridge "AWS API Call via CloudTrail" events."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from kmslab.trail.events import EventBus, matches, to_eventbridge_event
from kmslab.trail.record import to_cloudtrail_record
from kmslab.trail.recorder import TrailRecorder
from tests.trail.helpers import ACCOUNT, KEY_ARN, REGION, call

pytestmark = pytest.mark.unit


def test_eventbridge_event_shape() -> None:
    record = to_cloudtrail_record(call("ScheduleKeyDeletion", {"KeyId": KEY_ARN, "PendingWindowInDays": 7}))
    event = to_eventbridge_event(record)
    assert event["version"] == "0"
    assert event["detail-type"] == "AWS API Call via CloudTrail"
    assert event["source"] == "aws.kms"
    assert event["account"] == ACCOUNT
    assert event["region"] == REGION
    assert event["time"] == record["eventTime"]
    assert event["resources"] == []
    assert event["detail"] == record
    assert event["id"] != to_eventbridge_event(record)["id"]


def test_patterns_match_like_eventbridge() -> None:
    event = to_eventbridge_event(
        to_cloudtrail_record(call("Decrypt", {}, error=("KMSInvalidStateException", f"{KEY_ARN} is pending deletion.")))
    )
    assert matches(None, event)
    assert matches({"source": ["aws.kms"], "detail": {"eventName": ["Decrypt", "Encrypt"]}}, event)
    assert not matches({"detail": {"eventName": ["Encrypt"]}}, event)
    assert matches({"detail": {"errorCode": [{"exists": True}]}}, event)
    assert not matches({"detail": {"errorCode": [{"exists": False}]}}, event)
    assert matches({"detail": {"additionalEventData": [{"exists": False}]}}, event)
    assert matches({"detail": {"errorMessage": [{"prefix": "arn:aws:kms:"}]}}, event)
    assert matches({"detail": {"eventName": [{"anything-but": ["Encrypt"]}]}}, event)
    assert not matches({"detail": {"eventName": [{"anything-but": "Decrypt"}]}}, event)
    assert matches({"detail": {"resources": {"ARN": [KEY_ARN]}}}, {"detail": {"resources": {"ARN": KEY_ARN}}})
    assert not matches({"detail": {"userIdentity": {"invokedBy": ["s3.amazonaws.com"]}}}, event)


def test_string_operators_match_like_eventbridge() -> None:
    refused = to_eventbridge_event(
        to_cloudtrail_record(call("Decrypt", {}, error=("KMSInvalidStateException", f"{KEY_ARN} is pending deletion.")))
    )
    fine = to_eventbridge_event(to_cloudtrail_record(call("Decrypt", {})))
    # the alerting stack's key-use rule matches on this suffix
    assert matches({"detail": {"errorMessage": [{"suffix": "is pending deletion."}]}}, refused)
    assert not matches({"detail": {"errorMessage": [{"suffix": "is pending deletion."}]}}, fine)
    assert not matches({"detail": {"errorMessage": [{"suffix": "is disabled."}]}}, refused)
    assert matches({"detail": {"errorMessage": [{"wildcard": "arn:aws:kms:*:key/* is pending deletion."}]}}, refused)
    assert not matches({"detail": {"errorMessage": [{"wildcard": "*is disabled."}]}}, refused)
    assert matches({"detail": {"eventName": [{"equals-ignore-case": "DECRYPT"}]}}, refused)
    with pytest.raises(ValueError, match="unsupported EventBridge pattern operator 'numeric'"):
        matches({"detail": {"eventName": [{"numeric": [">", 1]}]}}, refused)


def test_recorder_publishes_each_record_and_survives_a_failing_handler(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = TrailRecorder(tmp_path, account=ACCOUNT, background=False)
    deletions: list[dict[str, Any]] = []
    everything: list[dict[str, Any]] = []

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    recorder.subscribe(broken)
    recorder.subscribe(deletions.append, pattern={"detail": {"eventName": ["ScheduleKeyDeletion"]}})
    unsubscribe = recorder.subscribe(everything.append)
    with caplog.at_level(logging.ERROR):
        recorder(call("Encrypt", {"KeyId": KEY_ARN}))
        recorder(call("ScheduleKeyDeletion", {"KeyId": KEY_ARN, "PendingWindowInDays": 7}))
    unsubscribe()
    recorder(call("Decrypt", {}))
    recorder.close()
    assert [e["detail"]["eventName"] for e in deletions] == ["ScheduleKeyDeletion"]
    assert [e["detail"]["eventName"] for e in everything] == ["Encrypt", "ScheduleKeyDeletion"]
    assert "handler bug" in caplog.text
    assert len(recorder.records()) == 3  # the failing handler lost nothing


def test_bus_reports_deliveries() -> None:
    bus = EventBus()
    got: list[dict[str, Any]] = []
    bus.subscribe(got.append, pattern={"source": ["aws.kms"]})
    assert bus.publish({"source": "aws.kms", "id": "1"}) == 1
    assert bus.publish({"source": "aws.s3", "id": "2"}) == 0
    assert [e["id"] for e in got] == ["1"]
