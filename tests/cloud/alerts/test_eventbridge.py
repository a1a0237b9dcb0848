"""EventBridge delivery of the cloud's CloudTrail events to the rules and targets moto stores."""

from __future__ import annotations

import json
from typing import Any

from kmslab.cloud.alerts.events import rule_receives
from tests.cloud.alerts.conftest import receive_all, wait_for


def _rule(cloud: Any, name: str, pattern: dict[str, Any], queue_arn: str, state: str = "ENABLED") -> None:
    events = cloud.client("events")
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), State=state)
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": queue_arn}])


def test_a_real_kms_call_reaches_an_sqs_target(cloud, make_queue, unique) -> None:
    url, arn = make_queue()
    description = unique("desc")
    _rule(
        cloud,
        unique("rule"),
        {
            "source": ["aws.kms"],
            "detail": {"eventName": ["CreateKey"], "requestParameters": {"description": [description]}},
        },
        arn,
    )
    key = cloud.client("kms").create_key(Description=description)["KeyMetadata"]["KeyId"]
    sqs = cloud.client("sqs")
    messages = wait_for(lambda: receive_all(sqs, url))
    assert len(messages) == 1
    event = json.loads(messages[0]["Body"])
    assert event["detail-type"] == "AWS API Call via CloudTrail"
    assert event["source"] == "aws.kms"
    assert event["detail"]["eventName"] == "CreateKey"
    assert event["detail"]["responseElements"]["keyMetadata"]["keyId"] == key


def test_read_only_events_reach_only_rules_enabled_for_all_management_events(cloud, make_queue, unique) -> None:
    key = cloud.client("kms").create_key(Description=unique("ro"))["KeyMetadata"]["KeyId"]
    plain_url, plain_arn = make_queue()
    all_url, all_arn = make_queue()
    off_url, off_arn = make_queue()
    pattern = {"source": ["aws.kms"], "detail": {"eventName": ["DescribeKey"], "requestParameters": {"keyId": [key]}}}
    _rule(cloud, unique("plain"), pattern, plain_arn)
    _rule(cloud, unique("all"), pattern, all_arn, state="ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
    _rule(cloud, unique("off"), pattern, off_arn, state="DISABLED")
    cloud.client("kms").describe_key(KeyId=key)
    sqs = cloud.client("sqs")
    got = wait_for(lambda: receive_all(sqs, all_url))
    assert [json.loads(m["Body"])["detail"]["readOnly"] for m in got] == [True]
    assert cloud.cloud.alerts.delivery.drain()
    assert receive_all(sqs, plain_url) == []
    assert receive_all(sqs, off_url) == []


def test_rule_state_semantics() -> None:
    read_only = {"detail-type": "AWS API Call via CloudTrail", "detail": {"readOnly": True}}
    write = {"detail-type": "AWS API Call via CloudTrail", "detail": {"readOnly": False}}
    service = {"detail-type": "KMS CMK Deletion", "detail": {}}
    assert not rule_receives("ENABLED", read_only)
    assert rule_receives("ENABLED", write)
    assert rule_receives("ENABLED", service)
    assert rule_receives("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", read_only)
    assert not rule_receives("DISABLED", write)
