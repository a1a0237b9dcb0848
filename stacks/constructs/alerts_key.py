"""The alerting stack's KMS key: encrypts the topic, the dead-letter queues, the idempotency table, the logs."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

__all__ = ["alerts_key"]


def alerts_key(
    scope: Construct,
    construct_id: str,
    *,
    alias: str,
    rotation_period_days: int,
    deletion_window_days: int,
    removal_policy: RemovalPolicy,
) -> kms.Key:
    """A symmetric key with rotation that CloudWatch alarms, EventBridge and CloudWatch Logs may use.

    Args:
        scope: Parent construct (the alerting stack, so the key's logical ID stays ``AlertsKey``).
        construct_id: Construct id.
        alias: The key's alias (``alias/<prefix>/alerts``).
        rotation_period_days: Automatic rotation period (the kit's ``rotation_period_days``).
        deletion_window_days: Waiting period of a scheduled deletion.
        removal_policy: What happens to the key when the stack goes.

    Returns:
        The key.
    """
    key = kms.Key(
        scope,
        construct_id,
        description="kmslab alerting: SNS topic, dead-letter queues, idempotency table, function logs",
        enable_key_rotation=True,
        rotation_period=Duration.days(rotation_period_days),
        alias=alias,
        pending_window=Duration.days(deletion_window_days),
        removal_policy=removal_policy,
    )
    for sid, service in (("AllowCloudWatch", "cloudwatch.amazonaws.com"), ("AllowEventBridge", "events.amazonaws.com")):
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.ServicePrincipal(service)],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogs",
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                    )
                }
            },
        )
    )
    return key
