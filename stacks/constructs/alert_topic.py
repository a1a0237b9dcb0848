"""The SNS topic every kmslab alert goes to, and the idempotency table its functions share."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.nag import acknowledge

__all__ = ["AlertTopic", "idempotency_table"]


class AlertTopic(Construct):
    """An encrypted, TLS-only topic that this account's CloudWatch alarms may publish to.

    Attributes:
        topic: The topic.
    """

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey, email: str | None) -> None:
        """Create the topic.

        Args:
            scope: Parent construct.
            construct_id: Construct id.
            key: The key that encrypts the topic.
            email: An address to subscribe, or None.
        """
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", display_name="kmslab KMS alerts", master_key=key, enforce_ssl=True)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
                    },
                },
            )
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))


def idempotency_table(
    scope: Construct, construct_id: str, *, key: kms.IKey, removal_policy: RemovalPolicy
) -> dynamodb.Table:
    """The table that keeps one alert per EventBridge event ID (Powertools idempotency).

    Args:
        scope: Parent construct.
        construct_id: Construct id.
        key: The key that encrypts the table.
        removal_policy: What happens to the table when the stack goes.

    Returns:
        The table.
    """
    table = dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        time_to_live_attribute="expiration",
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
        removal_policy=removal_policy,
    )
    acknowledge(
        table,
        "NIST.800.53.R5-DynamoDBInBackupPlan",
        "Idempotency records live 48 hours and are rebuilt by the next delivery; PITR covers recovery.",
    )
    return table
