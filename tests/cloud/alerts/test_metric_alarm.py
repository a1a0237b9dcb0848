"""AWS's recipe, offline: a refused call on a key pending deletion -> metric filter -> alarm -> SNS -> e-mail."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmslab.cloud.alerts.mail import Mailbox
from stacks.constructs.alarms import METRIC_NAME, METRIC_NAMESPACE, PENDING_DELETION_FILTER_PATTERN


def _topic_key(cloud: Any, *, cloudwatch_may_use: bool, condition: dict[str, Any] | None = None) -> str:
    account = cloud.cloud.identities.account
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}
    ]
    if cloudwatch_may_use:
        statements.append(
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
                **({"Condition": condition} if condition else {}),
            }
        )
    policy = {"Version": "2012-10-17", "Statement": statements}
    return str(cloud.client("kms").create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"])


def _refused_record(cloud: Any) -> dict[str, Any]:
    kms = cloud.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    with pytest.raises(ClientError) as refused:
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert refused.value.response["Error"]["Code"] == "KMSInvalidStateException"
    records = [
        r
        for r in cloud.cloud.recorder.records()
        if r.get("eventName") == "Encrypt" and (r.get("requestParameters") or {}).get("keyId") == key
    ]
    assert len(records) == 1 and records[0]["errorMessage"].endswith("is pending deletion.")
    return records[0]


def _alarm_on(cloud: Any, unique: Any, topic: str) -> tuple[str, str]:
    logs = cloud.client("logs")
    group = unique("trail-group")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_metric_filter(
        logGroupName=group,
        filterName="pending",
        filterPattern=PENDING_DELETION_FILTER_PATTERN,
        metricTransformations=[
            {"metricName": METRIC_NAME, "metricNamespace": METRIC_NAMESPACE, "metricValue": "1", "defaultValue": 0}
        ],
    )
    name = unique("KMSKeyPendingDeletionErrorAlarm")
    cloud.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace=METRIC_NAMESPACE,
        MetricName=METRIC_NAME,
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic],
    )
    return group, name


def _deliver(cloud: Any, group: str, records: list[dict[str, Any]]) -> None:
    now = int(time.time() * 1000)
    cloud.client("logs").put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now, "message": json.dumps(r)} for r in records]
    )


def _state(cloud: Any, name: str) -> str:
    return str(cloud.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])


def test_refused_call_on_a_key_pending_deletion_sets_the_alarm_and_mails(cloud, unique) -> None:
    sns = cloud.client("sns")
    topic = sns.create_topic(
        Name=unique("alarm"), Attributes={"KmsMasterKeyId": _topic_key(cloud, cloudwatch_may_use=True)}
    )["TopicArn"]
    address = f"{unique('oncall')}@example.com"
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=address)
    group, name = _alarm_on(cloud, unique, topic)
    # no data, treated as not breaching: the first evaluation says OK
    assert _state(cloud, name) == "OK"
    # an unrelated record does not count
    _deliver(cloud, group, [{"eventSource": "kms.amazonaws.com", "eventName": "Encrypt"}])
    assert _state(cloud, name) == "OK"
    _deliver(cloud, group, [_refused_record(cloud)])
    assert _state(cloud, name) == "ALARM"
    mails = [m for m in Mailbox(cloud.data_dir / "mail").list() if m.to == address]
    assert len(mails) == 1
    assert mails[0].subject == f'ALARM: "{name}" in US East (N. Virginia)'
    body = json.loads(mails[0].body.split("\n\n--\n")[0])
    assert body["NewStateValue"] == "ALARM" and body["OldStateValue"] == "OK"
    assert body["Trigger"]["MetricName"] == METRIC_NAME


def test_a_key_policy_scoping_cloudwatch_to_the_account_and_alarm_lets_the_alarm_publish(cloud, unique) -> None:
    # the kit's alerts key allows cloudwatch.amazonaws.com under aws:SourceAccount; CloudWatch sends it, and the
    # alarm's ARN as aws:SourceArn
    account = cloud.cloud.identities.account
    condition = {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{account}:alarm:*"},
    }
    sns = cloud.client("sns")
    key = _topic_key(cloud, cloudwatch_may_use=True, condition=condition)
    topic = sns.create_topic(Name=unique("scoped"), Attributes={"KmsMasterKeyId": key})["TopicArn"]
    address = f"{unique('scoped')}@example.com"
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=address)
    group, name = _alarm_on(cloud, unique, topic)
    _deliver(cloud, group, [_refused_record(cloud)])
    assert _state(cloud, name) == "ALARM"
    assert [m.subject for m in Mailbox(cloud.data_dir / "mail").list() if m.to == address] == [
        f'ALARM: "{name}" in US East (N. Virginia)'
    ]


def test_an_alarm_topic_whose_key_refuses_cloudwatch_gets_no_message(cloud, unique) -> None:
    sns = cloud.client("sns")
    topic = sns.create_topic(
        Name=unique("closed"), Attributes={"KmsMasterKeyId": _topic_key(cloud, cloudwatch_may_use=False)}
    )["TopicArn"]
    address = f"{unique('nobody')}@example.com"
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=address)
    group, name = _alarm_on(cloud, unique, topic)
    _deliver(cloud, group, [_refused_record(cloud)])
    assert _state(cloud, name) == "ALARM"
    assert [m for m in Mailbox(cloud.data_dir / "mail").list() if m.to == address] == []


def test_a_malformed_filter_pattern_is_refused(cloud, unique) -> None:
    logs = cloud.client("logs")
    group = unique("bad")
    logs.create_log_group(logGroupName=group)
    with pytest.raises(ClientError) as bad:
        logs.put_metric_filter(
            logGroupName=group,
            filterName="x",
            filterPattern='{ $.eventSource = "kms.amazonaws.com" && }',
            metricTransformations=[{"metricName": "m", "metricNamespace": "n", "metricValue": "1"}],
        )
    assert bad.value.response["Error"]["Code"] == "InvalidParameterException"


def test_the_alarm_follows_the_local_clock_after_it_was_moved_forward(own_cloud) -> None:
    """The guide moves the local clock forward (rotation, expiry); CloudTrail's records then carry the local
    clock's times, and an alarm evaluated on the wall clock would find their datapoints in its future."""
    from datetime import timedelta

    own_cloud.cloud.kms.advance_time(timedelta(days=400))
    local_now = own_cloud.cloud.kms.clock.now()
    topic = own_cloud.client("sns").create_topic(Name="moved-clock")["TopicArn"]
    group, name = _alarm_on(own_cloud, lambda prefix: f"{prefix}-moved", topic)
    record = _refused_record(own_cloud)
    stamp = int(local_now.timestamp() * 1000)
    own_cloud.client("logs").put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": stamp, "message": json.dumps(record)}]
    )
    assert _state(own_cloud, name) == "ALARM"


def test_a_datapoint_delivered_after_its_period_ended_still_fires_the_alarm(own_cloud) -> None:
    """CloudTrail delivers seconds after the call; the period of the call may have ended by then. (A cloud of
    its own: the module's other alarms count the same metric.)"""
    sns, logs = own_cloud.client("sns"), own_cloud.client("logs")
    topic = sns.create_topic(Name="late")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="late@example.com")
    group, name = _alarm_on(own_cloud, lambda prefix: f"{prefix}-late", topic)
    record = _refused_record(own_cloud)
    mailbox = Mailbox(own_cloud.data_dir / "mail")
    late = (int(time.time()) // 300 * 300 - 1) * 1000  # the last second of the previous 5-minute period
    logs.put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": late, "message": json.dumps(record)}]
    )
    assert [m.subject for m in mailbox.list()] == [f'ALARM: "{name}" in US East (N. Virginia)']  # no OK action
    assert _state(own_cloud, name) == "OK"  # the period with the error has passed
    # a record an hour old (a replayed log, not a delivery delay) fires nothing
    old = int(time.time() * 1000) - 3_600_000
    logs.put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": old, "message": json.dumps(record)}]
    )
    assert len(mailbox.list()) == 1
    assert _state(own_cloud, name) == "OK"
