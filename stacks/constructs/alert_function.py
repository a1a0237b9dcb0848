"""One alerting Lambda function with everything it owns: log group, dead-letter queue, role, policy, alarm."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.alarms import one_or_more_alarm
from stacks.nag import acknowledge

__all__ = ["ARCHITECTURE", "LAMBDA_ROOT", "RUNTIME", "SHARED_PACKAGE", "AlertFunction", "asset_excludes"]

LAMBDA_ROOT = Path(__file__).resolve().parents[2] / "lambda"
SHARED_PACKAGE = "kms_events"
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64


def asset_excludes(handler: str, root: Path = LAMBDA_ROOT) -> list[str]:
    """Return the ``exclude`` globs that cut ``lambda/`` down to one handler plus the shared package.

    Args:
        handler: the handler folder (``key_use_alert``).
        root: the ``lambda/`` folder.

    Returns:
        Glob patterns for every other top-level entry, caches and tests.
    """
    keep = {handler, SHARED_PACKAGE}
    others = sorted(p.name for p in root.iterdir() if p.name not in keep)
    return [*others, "**/__pycache__", "**/*.pyc"]


class AlertFunction(Construct):
    """A handler of ``lambda/`` that publishes alerts, with its own encrypted logs, DLQ and least-privilege role.

    The role has one customer-managed policy, written out: its own log group, publish to the topic, the
    idempotency records, its dead-letter queue, the alerts key, plus ``statements``. The function waits for
    the policy, so it never runs without its permissions. An alarm fires on any message in the dead-letter
    queue (an alert nobody got).

    Attributes:
        function: The Lambda function.
        dlq: Its dead-letter queue (failed async invocations and failed rule deliveries).
        log_group: Its log group (encrypted, one year).
        role: Its execution role.
        policy: The role's managed policy.
        undelivered_alarm: The alarm on the dead-letter queue.
    """

    def __init__(  # noqa: PLR0913 - keyword-only props, one per thing the function is given
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        layer: lambda_.ILayerVersion,
        key: kms.IKey,
        topic: sns.ITopic,
        table: dynamodb.ITable,
        statements: Sequence[iam.PolicyStatement],
        timeout: Duration,
        alarm_name: str,
        removal_policy: RemovalPolicy,
        environment: Mapping[str, str] | None = None,
        reserved_concurrency: int | None = None,
        policy_acknowledgements: Mapping[str, str] | None = None,
    ) -> None:
        """Create the function and what it owns.

        Args:
            scope: Parent construct.
            construct_id: Construct id.
            handler: The handler folder under ``lambda/`` (entry point ``<handler>.app.lambda_handler``).
            description: The function's description.
            layer: The Powertools layer.
            key: The alerts key (logs, DLQ; the function encrypts and decrypts with it).
            topic: The alert topic.
            table: The idempotency table.
            statements: Permissions this handler needs on top of the common ones.
            timeout: The function's timeout.
            alarm_name: Name of the undelivered-alerts alarm.
            removal_policy: What happens to the log group when the stack goes.
            environment: Extra environment variables.
            reserved_concurrency: Reserved concurrency, or None to share the account pool.
            policy_acknowledgements: cdk-nag rule id -> reason, acknowledged on the role's policy (the
                wildcards ``statements`` need).
        """
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_YEAR, encryption_key=key, removal_policy=removal_policy
        )
        self.dlq = sqs.Queue(
            self,
            "Dlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"kmslab alerting function {handler}",
        )
        self.policy = self._policy(key=key, topic=topic, table=table, statements=statements)
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=f"{handler}.app.lambda_handler",
            code=lambda_.Code.from_asset(str(LAMBDA_ROOT), exclude=asset_excludes(handler)),
            layers=[layer],
            memory_size=256,
            timeout=timeout,
            role=self.role.without_policy_updates(),
            log_group=self.log_group,
            environment={
                "ALERT_TOPIC_ARN": topic.topic_arn,
                "IDEMPOTENCY_TABLE": table.table_name,
                "POWERTOOLS_SERVICE_NAME": f"kmslab-{handler.replace('_', '-')}",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
            },
            dead_letter_queue=self.dlq,
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            reserved_concurrent_executions=reserved_concurrency,
        )
        self._depend_on_policy_only()
        self._acknowledge(reserved_concurrency)
        for rule, reason in (policy_acknowledgements or {}).items():
            acknowledge(self.policy, rule, reason)
        self.undelivered_alarm = one_or_more_alarm(
            self,
            "UndeliveredAlarm",
            name=alarm_name,
            description=f"{handler}: events in the dead-letter queue (alerts that were not sent)",
            metric=self.dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
            topic=topic,
        )

    def target(self) -> targets.LambdaFunction:
        """An EventBridge target for this function: failed deliveries go to its dead-letter queue.

        Returns:
            The target.
        """
        return targets.LambdaFunction(
            self.function, dead_letter_queue=self.dlq, retry_attempts=8, max_event_age=Duration.hours(6)
        )

    def _policy(
        self,
        *,
        key: kms.IKey,
        topic: sns.ITopic,
        table: dynamodb.ITable,
        statements: Sequence[iam.PolicyStatement],
    ) -> iam.ManagedPolicy:
        return iam.ManagedPolicy(
            self,
            "Policy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                ),
                iam.PolicyStatement(sid="PublishAlerts", actions=["sns:Publish"], resources=[topic.topic_arn]),
                iam.PolicyStatement(
                    sid="IdempotencyRecords",
                    actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                    resources=[table.table_arn],
                ),
                iam.PolicyStatement(sid="DeadLetters", actions=["sqs:SendMessage"], resources=[self.dlq.queue_arn]),
                iam.PolicyStatement(
                    sid="UseAlertsKey",
                    actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[key.key_arn],
                ),
                *statements,
            ],
        )

    def _depend_on_policy_only(self) -> None:
        # The function waits for its policy. CDK also makes it depend on its role, which the Role GetAtt already
        # orders (cfn-lint W3005), so the DependsOn is written out with the policy alone.
        function_resource = self.function.node.default_child
        policy_resource = self.policy.node.default_child
        assert isinstance(function_resource, CfnResource) and isinstance(policy_resource, CfnResource)
        function_resource.add_override("DependsOn", [Stack.of(self).get_logical_id(policy_resource)])

    def _acknowledge(self, reserved_concurrency: int | None) -> None:
        if reserved_concurrency is None:
            acknowledge(
                self.function,
                "NIST.800.53.R5-LambdaConcurrency",
                "Reserving concurrency fails in new accounts (unreserved concurrency must stay >= 10); pass "
                "reserved_concurrency to set it.",
            )
        acknowledge(
            self.function,
            "NIST.800.53.R5-LambdaInsideVPC",
            "The function only calls AWS APIs (KMS, CloudTrail, SNS, DynamoDB); a VPC would add NAT or "
            "endpoints and no protection.",
        )
