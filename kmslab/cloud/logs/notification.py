"""The SNS message CloudWatch publishes when an alarm changes state.

CloudWatch User Guide, "Using Amazon CloudWatch alarms" (alarm actions, Amazon SNS notification):
the message is JSON with ``AlarmName``, ``AlarmDescription``, ``AWSAccountId``, ``NewStateValue``,
``NewStateReason``, ``StateChangeTime``, ``Region`` (the Region's name), ``AlarmArn``,
``OldStateValue`` and ``Trigger`` (the metric and the alarm's settings); the subject reads
``ALARM: "<name>" in <Region name>``.
"""

from __future__ import annotations

import json
from typing import Any

from kmslab.cloud.logs.alarms import Transition

#: Region codes to the names CloudWatch writes in its notifications (the Regions the kit names).
REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-central-1": "EU (Frankfurt)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
}


def alarm_notification(transition: Transition, *, account: str, region: str) -> tuple[str, str]:
    """Return the subject and JSON message CloudWatch publishes to an alarm's SNS topic.

    Args:
        transition: the state change.
        account: the alarm's account.
        region: the alarm's Region.

    Returns:
        ``(subject, message)``.
    """
    alarm = transition.alarm
    region_name = REGION_NAMES.get(region, region)
    trigger: dict[str, Any] = {
        "MetricName": alarm.metric_name,
        "Namespace": alarm.namespace,
        "StatisticType": "Statistic",
        "Statistic": alarm.statistic.upper(),
        "Unit": None,
        "Dimensions": [{"name": n, "value": v} for n, v in alarm.dimensions],
        "Period": alarm.period,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.required,
        "ComparisonOperator": alarm.comparison_operator,
        "Threshold": alarm.threshold,
        "TreatMissingData": alarm.treat_missing_data,
        "EvaluateLowSampleCountPercentile": "",
    }
    message = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description or None,
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": transition.timestamp.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "NewStateValue": transition.new_state,
        "NewStateReason": transition.reason,
        "StateChangeTime": transition.timestamp.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "Region": region_name,
        "AlarmArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm.name}",
        "OldStateValue": transition.old_state,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": trigger,
    }
    subject = f'{transition.new_state}: "{alarm.name}" in {region_name}'
    return subject[:100], json.dumps(message)
