"""CloudTrail -> CloudWatch Logs: a trail with a log group and a role delivers its records there too.

The records land in the stream ``<account>_CloudTrail_<region>``, the kit's metric filter (AWS's
"use of a key pending deletion" recipe) counts the refused call, and its alarm goes to ALARM.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stacks.constructs.alarms import METRIC_NAME, METRIC_NAMESPACE, PENDING_DELETION_FILTER_PATTERN
from tests.cloud.alerts.conftest import wait_for
from tests.cloud.cloudtrail._policies import bucket_policy
from tests.cloud.conftest import Running

TRUST_CLOUDTRAIL = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def _role(cloud: Running, unique: Callable[[str], str], group: str, *, may_write: bool = True) -> str:
    iam = cloud.client("iam")
    name = unique("trail-logs-role")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_CLOUDTRAIL))["Role"]["Arn"]
    account = cloud.cloud.kms.account
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"] if may_write else ["logs:DescribeLogGroups"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": actions,
                "Resource": f"arn:aws:logs:us-east-1:{account}:log-group:{group}:log-stream:*",
            }
        ],
    }
    iam.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=json.dumps(policy))
    return arn


def _bucket(cloud: Running, unique: Callable[[str], str], trail_name: str) -> str:
    account = cloud.cloud.kms.account
    bucket = unique("trail-logs")
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket=bucket)
    arn = f"arn:aws:cloudtrail:us-east-1:{account}:trail/{trail_name}"
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, account, arn))
    return bucket


def _group_arn(cloud: Running, group: str) -> str:
    return f"arn:aws:logs:us-east-1:{cloud.cloud.kms.account}:log-group:{group}:*"


def _events(cloud: Running, group: str) -> list[dict[str, Any]]:
    logs = cloud.client("logs")
    stream = f"{cloud.cloud.kms.account}_CloudTrail_us-east-1"
    try:
        found = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    except ClientError:
        return []
    return [json.loads(e["message"]) for e in found]


def _flush(cloud: Running) -> None:
    assert cloud.cloud.recorder is not None
    cloud.cloud.recorder.flush()


def test_records_reach_the_group_and_the_kit_alarm_goes_to_alarm(cloud: Running, unique: Any) -> None:
    logs, ct, kms = cloud.client("logs"), cloud.client("cloudtrail"), cloud.client("kms")
    group = unique("trail-group")
    logs.create_log_group(logGroupName=group)
    logs.put_metric_filter(
        logGroupName=group,
        filterName="pending",
        filterPattern=PENDING_DELETION_FILTER_PATTERN,
        metricTransformations=[
            {"metricName": METRIC_NAME, "metricNamespace": METRIC_NAMESPACE, "metricValue": "1", "defaultValue": 0}
        ],
    )
    alarm = unique("KMSKeyPendingDeletionErrorAlarm")
    cloudwatch = cloud.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=alarm, Namespace=METRIC_NAMESPACE, MetricName=METRIC_NAME, Statistic="Sum", Period=300,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )  # fmt: skip
    name = unique("trail")
    ct.create_trail(
        Name=name, S3BucketName=_bucket(cloud, unique, name), CloudWatchLogsLogGroupArn=_group_arn(cloud, group),
        CloudWatchLogsRoleArn=_role(cloud, unique, group),
    )  # fmt: skip
    ct.start_logging(Name=name)
    try:
        marker = kms.create_key(Description=unique("to-the-group"))["KeyMetadata"]["KeyId"]
        kms.schedule_key_deletion(KeyId=marker, PendingWindowInDays=7)
        with pytest.raises(ClientError) as refused:
            kms.encrypt(KeyId=marker, Plaintext=b"x")
        assert refused.value.response["Error"]["Code"] == "KMSInvalidStateException"
        _flush(cloud)
        events = wait_for(lambda: [e for e in _events(cloud, group) if marker in json.dumps(e)], timeout=20)
        names = [e["eventName"] for e in events]
        assert names.count("CreateKey") == 1 and names.count("Encrypt") == 1
        failed = next(e for e in events if e["eventName"] == "Encrypt")
        assert failed["errorMessage"].endswith("is pending deletion.") and failed["eventSource"] == "kms.amazonaws.com"
        state = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"]
        assert state == "ALARM"
        status = ct.get_trail_status(Name=name)
        assert "LatestCloudWatchLogsDeliveryTime" in status and "LatestCloudWatchLogsDeliveryError" not in status
    finally:
        ct.delete_trail(Name=name)


def test_a_role_that_may_no_longer_write_stops_delivery_and_says_why(cloud: Running, unique: Any) -> None:
    logs, ct, iam = cloud.client("logs"), cloud.client("cloudtrail"), cloud.client("iam")
    group = unique("trail-group")
    logs.create_log_group(logGroupName=group)
    name = unique("trail")
    role = _role(cloud, unique, group)
    ct.create_trail(
        Name=name, S3BucketName=_bucket(cloud, unique, name), CloudWatchLogsLogGroupArn=_group_arn(cloud, group),
        CloudWatchLogsRoleArn=role,
    )  # fmt: skip
    ct.start_logging(Name=name)
    try:
        iam.delete_role_policy(RoleName=role.rsplit("/", 1)[-1], PolicyName="logs")
        marker = cloud.client("kms").create_key(Description=unique("not-delivered"))["KeyMetadata"]["KeyId"]
        _flush(cloud)
        status = wait_for(lambda: ct.get_trail_status(Name=name).get("LatestCloudWatchLogsDeliveryError"), timeout=20)
        assert status and "logs:CreateLogStream" in status
        assert [e for e in _events(cloud, group) if marker in json.dumps(e)] == []
    finally:
        ct.delete_trail(Name=name)


def test_create_trail_checks_the_group_and_the_role(cloud: Running, unique: Any) -> None:
    logs, ct = cloud.client("logs"), cloud.client("cloudtrail")
    group = unique("trail-group")
    name = unique("trail")
    bucket = _bucket(cloud, unique, name)
    role = _role(cloud, unique, group)
    with pytest.raises(ClientError) as missing:  # the group must exist
        ct.create_trail(
            Name=name, S3BucketName=bucket, CloudWatchLogsLogGroupArn=_group_arn(cloud, group),
            CloudWatchLogsRoleArn=role,
        )  # fmt: skip
    assert missing.value.response["Error"]["Code"] == "InvalidCloudWatchLogsLogGroupArnException"
    logs.create_log_group(logGroupName=group)
    with pytest.raises(ClientError) as unable:  # a role that may not put log events
        ct.create_trail(
            Name=name, S3BucketName=bucket, CloudWatchLogsLogGroupArn=_group_arn(cloud, group),
            CloudWatchLogsRoleArn=_role(cloud, unique, group, may_write=False),
        )  # fmt: skip
    assert unable.value.response["Error"]["Code"] == "InvalidCloudWatchLogsRoleArnException"
    ct.create_trail(
        Name=name, S3BucketName=bucket, CloudWatchLogsLogGroupArn=_group_arn(cloud, group), CloudWatchLogsRoleArn=role
    )
    ct.delete_trail(Name=name)
