"""CloudWatch alarms of the alerting stack: AWS's pending-deletion recipe and undelivered alerts."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

__all__ = [
    "ALARM_NAME",
    "METRIC_NAME",
    "METRIC_NAMESPACE",
    "PENDING_DELETION_FILTER_PATTERN",
    "PendingDeletionAlarm",
    "one_or_more_alarm",
]

# AWS's documented recipe ("Create an alarm that detects use of a KMS key pending deletion").
PENDING_DELETION_FILTER_PATTERN = '{ $.eventSource = kms* && $.errorMessage = "* is pending deletion."}'
METRIC_NAMESPACE = "CloudTrailLogMetrics"
METRIC_NAME = "KMSKeyPendingDeletionErrorCount"
ALARM_NAME = "KMSKeyPendingDeletionErrorAlarm"


def one_or_more_alarm(
    scope: Construct, construct_id: str, *, name: str, description: str, metric: cloudwatch.IMetric, topic: sns.ITopic
) -> cloudwatch.Alarm:
    """An alarm that notifies ``topic`` when ``metric`` is 1 or more in a 5-minute period.

    Args:
        scope: Parent construct.
        construct_id: Construct id.
        name: The alarm's name.
        description: The alarm's description.
        metric: The metric watched.
        topic: Where the alarm notifies.

    Returns:
        The alarm.
    """
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_name=name,
        alarm_description=description,
        metric=metric,
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(cw_actions.SnsAction(topic))
    return alarm


class PendingDeletionAlarm(Construct):
    """AWS's metric filter on the trail's log group and its alarm: a safety net naming neither key nor caller.

    Attributes:
        metric_filter: Counts ``... is pending deletion.`` errors of KMS.
        alarm: ``<prefix>-KMSKeyPendingDeletionErrorAlarm``, notifying the topic.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, log_group: logs.ILogGroup, topic: sns.ITopic, prefix: str
    ) -> None:
        """Create the filter and the alarm.

        Args:
            scope: Parent construct.
            construct_id: Construct id.
            log_group: The trail's CloudWatch Logs group.
            topic: Where the alarm notifies.
            prefix: The kit's name prefix.
        """
        super().__init__(scope, construct_id)
        self.metric_filter = logs.MetricFilter(
            self,
            "Filter",
            log_group=log_group,
            filter_pattern=logs.FilterPattern.literal(PENDING_DELETION_FILTER_PATTERN),
            metric_namespace=METRIC_NAMESPACE,
            metric_name=METRIC_NAME,
            metric_value="1",
        )
        self.alarm = one_or_more_alarm(
            self,
            "Alarm",
            name=f"{prefix}-{ALARM_NAME}",
            description="A KMS request used a key pending deletion (AWS's recipe; see the detailed alert)",
            metric=self.metric_filter.metric(statistic="Sum", period=Duration.minutes(5)),
            topic=topic,
        )
