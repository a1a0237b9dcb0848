"""The alerting stack: catch use of a KMS key pending deletion, and watch deletions being scheduled.

Two paths end in one encrypted SNS topic. **Event path:** EventBridge rules on CloudTrail's KMS events invoke
``key_use_alert`` (a request refused because the key is pending deletion: which key, who, from where, how to
cancel) and ``deletion_watch`` (ScheduleKeyDeletion, DisableKey: when the key was last used). With a replica
Region, the replica stack forwards that Region's events here. **Alarm path:** AWS's metric filter and alarm on
the trail's log group, the safety net. The pieces are constructs of :mod:`stacks.constructs`.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks.config import KitConfig
from stacks.constructs.alarms import (  # noqa: F401 - re-exported: the names of AWS's recipe
    ALARM_NAME,
    METRIC_NAME,
    METRIC_NAMESPACE,
    PENDING_DELETION_FILTER_PATTERN,
    PendingDeletionAlarm,
)
from stacks.constructs.alert_function import ARCHITECTURE, RUNTIME, AlertFunction, asset_excludes  # noqa: F401
from stacks.constructs.alert_topic import AlertTopic, idempotency_table
from stacks.constructs.alerts_key import alerts_key
from stacks.constructs.kms_alerts import KmsAlerts

ON_USE_CHOICES = ("notify", "cancel")
# Powertools for AWS Lambda (Python) v3 public layer, resolved at deploy time from the SSM parameter Powertools
# publishes per release (/aws/service/powertools/python/<arch>/<python>/<version>); the version is the one
# pinned in requirements-dev.txt (a test keeps them equal). `make check-aws` checks the parameter exists.
POWERTOOLS_VERSION = "3.37.0"


def powertools_layer_parameter(version: str = POWERTOOLS_VERSION) -> str:
    """Return the public SSM parameter that holds the Powertools layer ARN for the functions' runtime.

    Args:
        version: the Powertools for AWS Lambda (Python) release, e.g. ``3.37.0``.

    Returns:
        The parameter name, e.g. ``/aws/service/powertools/python/arm64/python3.14/3.37.0``.
    """
    return f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{version}"


class AlertingStack(Stack):
    """Alerts on use of KMS keys pending deletion and on deletions being scheduled.

    Attributes:
        alerts_key: Encrypts the topic, the dead-letter queues, the table and the function logs.
        topic: Where every alert goes.
        idempotency_table: One alert per EventBridge event ID.
        alerts: The functions and the EventBridge rules (:class:`KmsAlerts`).
        pending_deletion_alarm: AWS's alarm on the trail's log group, or None without one.
    """

    def __init__(  # noqa: PLR0913
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: KitConfig,
        trail_log_group: logs.ILogGroup | None = None,
        powertools_version: str = POWERTOOLS_VERSION,
        reserved_concurrency: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Create the alerting path.

        Args:
            scope: the parent construct.
            construct_id: the stack ID.
            config: the kit settings.
            trail_log_group: the trail's log group for AWS's alarm; None imports ``config.trail_log_group_name``
                when ``trail_cloudwatch_logs`` is on, and skips the alarm when it is off.
            powertools_version: the Powertools release whose public layer the functions use.
            reserved_concurrency: reserved concurrency per function (None: the shared pool).
            **kwargs: passed to :class:`aws_cdk.Stack`.

        Raises:
            ValueError: ``config.on_use`` is not ``notify`` or ``cancel``.
        """
        if config.on_use not in ON_USE_CHOICES:
            raise ValueError(f"on_use must be one of {ON_USE_CHOICES}, got {config.on_use!r}")
        super().__init__(scope, construct_id, **kwargs)
        removal, prefix = config.removal_policy, config.prefix
        self.alerts_key = alerts_key(
            self,
            "AlertsKey",
            alias=f"alias/{prefix}/alerts",
            rotation_period_days=config.rotation_period_days,
            deletion_window_days=config.deletion_window_days,
            removal_policy=removal,
        )
        self.topic = AlertTopic(self, "AlertTopic", key=self.alerts_key, email=config.alert_email).topic
        self.idempotency_table = idempotency_table(
            self, "IdempotencyTable", key=self.alerts_key, removal_policy=removal
        )
        layer_arn = ssm.StringParameter.value_for_string_parameter(self, powertools_layer_parameter(powertools_version))
        self.alerts = KmsAlerts(
            self,
            "KmsAlerts",
            prefix=prefix,
            on_use=config.on_use,
            layer=lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", layer_arn),
            key=self.alerts_key,
            topic=self.topic,
            table=self.idempotency_table,
            removal_policy=removal,
            reserved_concurrency=reserved_concurrency,
            other_regions=config.regions[1:],
        )
        if trail_log_group is None and config.trail_cloudwatch_logs:
            trail_log_group = logs.LogGroup.from_log_group_name(self, "TrailLogGroup", config.trail_log_group_name)
        self.pending_deletion_alarm = (
            None
            if trail_log_group is None
            else PendingDeletionAlarm(
                self, "PendingDeletionError", log_group=trail_log_group, topic=self.topic, prefix=prefix
            ).alarm
        )
