"""The event path of the alerting stack: two alert functions and the EventBridge rules that invoke them."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from kmslab.trail.patterns import KEY_DELETION_SCHEDULED, KEY_USE_PENDING_DELETION
from stacks.constructs.alert_function import AlertFunction
from stacks.constructs.kms_rules import kms_rule

__all__ = ["KmsAlerts"]

_WILDCARD = "AwsSolutions-IAM5[Resource::*]"
_WILDCARD_REASON = (
    "kms:ListAliases and cloudtrail:LookupEvents have no resource-level permissions, and DescribeKey must reach "
    "whichever key an event names."
)
_ANY_KEY = "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]"
_ANY_KEY_REASON = (
    "ON_USE=cancel cancels the deletion of whichever key in this account and region is used while pending "
    "deletion; the keys are not known when the stack is built."
)


class KmsAlerts(Construct):
    """``key_use_alert`` on use of a key pending deletion, ``deletion_watch`` on scheduled deletions.

    Attributes:
        key_use: The ``key_use_alert`` function and what it owns.
        deletion_watch: The ``deletion_watch`` function and what it owns.
        key_use_rule: The rule on requests refused because the key is pending deletion (read-only events on).
        deletion_rule: The rule on ScheduleKeyDeletion and DisableKey.
    """

    def __init__(  # noqa: PLR0913 - keyword-only props
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        on_use: str,
        layer: lambda_.ILayerVersion,
        key: kms.IKey,
        topic: sns.ITopic,
        table: dynamodb.ITable,
        removal_policy: RemovalPolicy,
        reserved_concurrency: int | None = None,
        other_regions: tuple[str, ...] = (),
    ) -> None:
        """Create the functions and the rules.

        Args:
            scope: Parent construct.
            construct_id: Construct id.
            prefix: The kit's name prefix (alarm names).
            on_use: ``notify`` or ``cancel`` (``cancel`` also lets ``key_use_alert`` cancel the deletion).
            layer: The Powertools layer.
            key: The alerts key.
            topic: The alert topic.
            table: The idempotency table.
            removal_policy: What happens to the log groups when the stack goes.
            reserved_concurrency: Reserved concurrency per function, or None.
            other_regions: Regions whose events are forwarded here (the replica Region): with ``cancel``, the
                function cancels deletions there too (it calls KMS in the event's Region).
        """
        super().__init__(scope, construct_id)
        common: dict[str, Any] = {
            "layer": layer,
            "key": key,
            "topic": topic,
            "table": table,
            "removal_policy": removal_policy,
            "reserved_concurrency": reserved_concurrency,
        }
        # ListAliases has no resource-level permissions; DescribeKey must reach any key an event names.
        describe = iam.PolicyStatement(
            sid="DescribeKeys", actions=["kms:DescribeKey", "kms:ListAliases"], resources=["*"]
        )
        key_use_statements = [describe]
        key_use_acks = {_WILDCARD: _WILDCARD_REASON}
        if on_use == "cancel":
            keys = [
                f"arn:{Aws.PARTITION}:kms:{region}:{Aws.ACCOUNT_ID}:key/*" for region in (Aws.REGION, *other_regions)
            ]
            key_use_statements.append(
                iam.PolicyStatement(sid="CancelKeyDeletion", actions=["kms:CancelKeyDeletion"], resources=keys)
            )
            key_use_acks[_ANY_KEY] = _ANY_KEY_REASON
            for region in other_regions:
                rule = f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:{region}:<AWS::AccountId>:key/*]"
                key_use_acks[rule] = _ANY_KEY_REASON
        self.key_use = AlertFunction(
            self,
            "KeyUseAlert",
            handler="key_use_alert",
            description="Alerts on use of a KMS key pending deletion (facts, principal, how to cancel)",
            statements=key_use_statements,
            timeout=Duration.seconds(30),
            alarm_name=f"{prefix}-KeyUseAlert-undelivered-alerts",
            environment={"ON_USE": on_use},
            policy_acknowledgements=key_use_acks,
            **common,
        )
        lookup = iam.PolicyStatement(sid="LookupEvents", actions=["cloudtrail:LookupEvents"], resources=["*"])
        self.deletion_watch = AlertFunction(
            self,
            "DeletionWatch",
            handler="deletion_watch",
            description="Alerts on ScheduleKeyDeletion and DisableKey, with the key's last use",
            statements=[describe, lookup],
            timeout=Duration.seconds(60),
            alarm_name=f"{prefix}-DeletionWatch-undelivered-alerts",
            policy_acknowledgements={_WILDCARD: _WILDCARD_REASON},
            **common,
        )
        self.key_use_rule = kms_rule(
            self,
            "KeyPendingDeletionUseRule",
            pattern=KEY_USE_PENDING_DELETION,
            description="KMS requests refused because the key is pending deletion",
            targets=[self.key_use.target()],
            read_only_events=True,
        )
        self.deletion_rule = kms_rule(
            self,
            "KeyDeletionScheduledRule",
            pattern=KEY_DELETION_SCHEDULED,
            description="KMS keys scheduled for deletion or disabled",
            targets=[self.deletion_watch.target()],
            read_only_events=False,
        )
