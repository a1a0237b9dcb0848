"""The alerting stack: catch use of a KMS key pending deletion, and watch deletions being scheduled.

Two paths, both ending in one encrypted SNS topic:

* **Event path (ours).** EventBridge rules on CloudTrail's KMS management events invoke two
  Lambda functions. ``key_use_alert`` fires when KMS refuses a request because the key is
  pending deletion and says which key, who, from where, with what encryption context, and
  how to cancel; ``deletion_watch`` fires on ScheduleKeyDeletion and DisableKey and says when
  the key was last used. KMS cryptographic calls are *read-only* management events, which a
  rule only receives in the state ``ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS``.
* **Alarm path (AWS's recipe).** A metric filter on the trail's CloudWatch Logs group counts
  ``... is pending deletion.`` errors; alarm ``KMSKeyPendingDeletionErrorAlarm`` notifies the
  topic. Its message names neither the key nor the caller: it is the safety net.

Each function's asset is ``lambda/`` filtered to the handler's folder plus the shared
``lambda/kms_events/`` package, so the handler is ``<folder>.app.lambda_handler``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnResource, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from kmslab.trail.patterns import KEY_DELETION_SCHEDULED, KEY_USE_PENDING_DELETION
from stacks.config import KitConfig
from stacks.keys import removal_policy
from stacks.nag import acknowledge

LAMBDA_ROOT = Path(__file__).resolve().parent.parent / "lambda"
SHARED_PACKAGE = "kms_events"
ON_USE_CHOICES = ("notify", "cancel")

# AWS's documented recipe ("Create an alarm that detects use of a KMS key pending deletion").
PENDING_DELETION_FILTER_PATTERN = '{ $.eventSource = kms* && $.errorMessage = "* is pending deletion."}'
METRIC_NAMESPACE = "CloudTrailLogMetrics"
METRIC_NAME = "KMSKeyPendingDeletionErrorCount"
ALARM_NAME = "KMSKeyPendingDeletionErrorAlarm"

ALL_MANAGEMENT_EVENTS = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"

# Powertools for AWS Lambda (Python) v3 public layer. Its ARN carries a layer number that differs per
# runtime and architecture, so the stack resolves it at deploy time from the public SSM parameter that
# Powertools publishes for each release: /aws/service/powertools/python/<arch>/<python>/<version>.
# The version is the aws-lambda-powertools pinned in requirements-dev.txt (a test keeps the two equal),
# so the layer runs exactly the Powertools the handler tests ran.
POWERTOOLS_VERSION = "3.37.0"
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64


def powertools_layer_parameter(version: str = POWERTOOLS_VERSION) -> str:
    """Return the name of the public SSM parameter that holds the Powertools layer ARN for our runtime.

    Args:
        version: the Powertools for AWS Lambda (Python) release, e.g. ``3.37.0``.

    Returns:
        The parameter name, e.g. ``/aws/service/powertools/python/arm64/python3.14/3.37.0``.
    """
    return f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{version}"


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


def _acknowledge(construct: Construct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag rule on the CloudFormation resource behind ``construct``."""
    resource = construct.node.default_child if not isinstance(construct, CfnResource) else construct
    assert isinstance(resource, CfnResource), f"{construct.node.path} has no single resource"
    acknowledge(resource, rule, reason)


class AlertingStack(Stack):
    """Alerts on use of KMS keys pending deletion and on deletions being scheduled.

    Args:
        scope: the parent construct.
        construct_id: the stack ID.
        config: the kit settings (``prefix``, ``alert_email``, ``on_use``, ``removal``, ``deletion_window_days``,
            ``trail_cloudwatch_logs``, ``trail_log_group_name``).
        trail_log_group: the trail's CloudWatch Logs group, for AWS's metric-filter alarm. When None and
            ``config.trail_cloudwatch_logs`` is on, the group is imported by its configured name (no
            cross-stack reference; deploy after the trail stack); when that is off, the alarm is skipped.
        powertools_version: the Powertools for AWS Lambda (Python) release whose public layer the functions use.
        reserved_concurrency: reserved concurrency per function; None leaves the account pool shared
            (new accounts cannot reserve any).
        **kwargs: passed to :class:`aws_cdk.Stack`.

    Raises:
        ValueError: ``config.on_use`` is not ``notify`` or ``cancel``.
    """

    def __init__(
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
        if config.on_use not in ON_USE_CHOICES:
            raise ValueError(f"on_use must be one of {ON_USE_CHOICES}, got {config.on_use!r}")
        super().__init__(scope, construct_id, **kwargs)
        self._on_use = config.on_use
        self._reserved_concurrency = reserved_concurrency
        self._removal = removal_policy(config)
        name_prefix = f"{config.prefix}-"

        # creating the alerts key: encrypts the topic, the dead-letter queues, the table and the function logs
        self.alerts_key = kms.Key(
            self,
            "AlertsKey",
            description="kmslab alerting: SNS topic, dead-letter queues, idempotency table, function logs",
            enable_key_rotation=True,
            alias=f"alias/{config.prefix}/alerts",
            pending_window=Duration.days(config.deletion_window_days),
            removal_policy=self._removal,
        )
        self._allow_services_to_use_key()

        # creating the topic every alert goes to
        self.topic = sns.Topic(
            self,
            "AlertTopic",
            display_name="kmslab KMS alerts",
            master_key=self.alerts_key,
            enforce_ssl=True,
        )
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
        if config.alert_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alert_email))

        # creating the idempotency table: one alert per EventBridge event ID
        self.idempotency_table = dynamodb.Table(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expiration",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.alerts_key,
            removal_policy=self._removal,
        )
        _acknowledge(
            self.idempotency_table,
            "NIST.800.53.R5-DynamoDBInBackupPlan",
            "Idempotency records live 48 hours and are rebuilt by the next delivery; PITR covers recovery.",
        )

        layer_arn = ssm.StringParameter.value_for_string_parameter(self, powertools_layer_parameter(powertools_version))
        layer = lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", layer_arn)

        # creating the two functions
        self.key_use_function, self.key_use_dlq = self._function(
            "KeyUseAlert",
            handler="key_use_alert",
            description="Alerts on use of a KMS key pending deletion (facts, principal, how to cancel)",
            layer=layer,
            extra_env={"ON_USE": config.on_use},
            statements=self._key_use_statements(),
            timeout=Duration.seconds(30),
        )
        self.deletion_watch_function, self.deletion_watch_dlq = self._function(
            "DeletionWatch",
            handler="deletion_watch",
            description="Alerts on ScheduleKeyDeletion and DisableKey, with the key's last use",
            layer=layer,
            extra_env={},
            statements=self._deletion_watch_statements(),
            timeout=Duration.seconds(60),
        )

        # creating the rules
        self.key_use_rule = events.Rule(
            self,
            "KeyPendingDeletionUseRule",
            description="KMS requests refused because the key is pending deletion",
            event_pattern=_event_pattern(KEY_USE_PENDING_DELETION),
            targets=[self._target(self.key_use_function, self.key_use_dlq)],
        )
        # Decrypt, Encrypt, GenerateDataKey... are read-only management events: the default ENABLED
        # state does not deliver them; this state does (CloudFormation accepts it; the L2 has no prop).
        rule_resource = self.key_use_rule.node.default_child
        assert isinstance(rule_resource, events.CfnRule)
        rule_resource.add_property_override("State", ALL_MANAGEMENT_EVENTS)

        self.deletion_rule = events.Rule(
            self,
            "KeyDeletionScheduledRule",
            description="KMS keys scheduled for deletion or disabled",
            event_pattern=_event_pattern(KEY_DELETION_SCHEDULED),
            targets=[self._target(self.deletion_watch_function, self.deletion_watch_dlq)],
        )

        # creating alarms on undelivered alerts: a message in a dead-letter queue is an alert nobody got
        for name, queue in (("KeyUseAlert", self.key_use_dlq), ("DeletionWatch", self.deletion_watch_dlq)):
            alarm = cloudwatch.Alarm(
                self,
                f"{name}DlqAlarm",
                alarm_name=f"{name_prefix}{name}-undelivered-alerts",
                alarm_description=f"{name}: events in the dead-letter queue (alerts that were not sent)",
                metric=queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(cw_actions.SnsAction(self.topic))

        # creating AWS's metric filter and alarm on the trail's log group
        self.pending_deletion_alarm: cloudwatch.Alarm | None = None
        if trail_log_group is None and config.trail_cloudwatch_logs:
            trail_log_group = logs.LogGroup.from_log_group_name(self, "TrailLogGroup", config.trail_log_group_name)
        if trail_log_group is not None:
            metric_filter = logs.MetricFilter(
                self,
                "PendingDeletionErrorFilter",
                log_group=trail_log_group,
                filter_pattern=logs.FilterPattern.literal(PENDING_DELETION_FILTER_PATTERN),
                metric_namespace=METRIC_NAMESPACE,
                metric_name=METRIC_NAME,
                metric_value="1",
            )
            self.pending_deletion_alarm = cloudwatch.Alarm(
                self,
                "PendingDeletionErrorAlarm",
                alarm_name=f"{name_prefix}{ALARM_NAME}",
                alarm_description="A KMS request used a key pending deletion (AWS's recipe; see the detailed alert)",
                metric=metric_filter.metric(statistic="Sum", period=Duration.minutes(5)),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self.pending_deletion_alarm.add_alarm_action(cw_actions.SnsAction(self.topic))

    # -- pieces ---------------------------------------------------------------------------

    def _allow_services_to_use_key(self) -> None:
        """Let CloudWatch (alarms -> topic), EventBridge (-> dead-letter queues) and Logs use the alerts key."""
        for sid, service in (
            ("AllowCloudWatch", "cloudwatch.amazonaws.com"),
            ("AllowEventBridge", "events.amazonaws.com"),
        ):
            self.alerts_key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ServicePrincipal(service)],
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
                )
            )
        self.alerts_key.add_to_resource_policy(
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

    def _key_use_statements(self) -> list[iam.PolicyStatement]:
        statements = [self._describe_keys_statement()]
        if self._on_use == "cancel":
            statements.append(
                iam.PolicyStatement(
                    sid="CancelKeyDeletion",
                    actions=["kms:CancelKeyDeletion"],
                    resources=[f"arn:{Aws.PARTITION}:kms:{Aws.REGION}:{Aws.ACCOUNT_ID}:key/*"],
                )
            )
        return statements

    def _deletion_watch_statements(self) -> list[iam.PolicyStatement]:
        return [
            self._describe_keys_statement(),
            iam.PolicyStatement(sid="LookupEvents", actions=["cloudtrail:LookupEvents"], resources=["*"]),
        ]

    @staticmethod
    def _describe_keys_statement() -> iam.PolicyStatement:
        # ListAliases has no resource-level permissions; DescribeKey must reach any key an event names.
        return iam.PolicyStatement(sid="DescribeKeys", actions=["kms:DescribeKey", "kms:ListAliases"], resources=["*"])

    def _function(
        self,
        name: str,
        *,
        handler: str,
        description: str,
        layer: lambda_.ILayerVersion,
        extra_env: dict[str, str],
        statements: list[iam.PolicyStatement],
        timeout: Duration,
    ) -> tuple[lambda_.Function, sqs.Queue]:
        # creating the function's log group, encrypted, with a retention
        log_group = logs.LogGroup(
            self,
            f"{name}Logs",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=self.alerts_key,
            removal_policy=self._removal,
        )
        # creating the dead-letter queue: rule delivery failures and failed async invocations land here
        dlq = sqs.Queue(
            self,
            f"{name}Dlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.alerts_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        # creating the role: one customer-managed policy, written out, least privilege
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"kmslab alerting function {handler}",
        )
        policy = iam.ManagedPolicy(
            self,
            f"{name}Policy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
                iam.PolicyStatement(sid="PublishAlerts", actions=["sns:Publish"], resources=[self.topic.topic_arn]),
                iam.PolicyStatement(
                    sid="IdempotencyRecords",
                    actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                    resources=[self.idempotency_table.table_arn],
                ),
                iam.PolicyStatement(sid="DeadLetters", actions=["sqs:SendMessage"], resources=[dlq.queue_arn]),
                iam.PolicyStatement(
                    sid="UseAlertsKey",
                    actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[self.alerts_key.key_arn],
                ),
                *statements,
            ],
        )
        _acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "kms:ListAliases and cloudtrail:LookupEvents have no resource-level permissions, and DescribeKey "
            "must reach whichever key an event names.",
        )
        if self._on_use == "cancel" and handler == "key_use_alert":
            _acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]",
                "ON_USE=cancel cancels the deletion of whichever key in this account and region is used while "
                "pending deletion; the keys are not known when the stack is built.",
            )
        function = lambda_.Function(
            self,
            name,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=f"{handler}.app.lambda_handler",
            code=lambda_.Code.from_asset(str(LAMBDA_ROOT), exclude=asset_excludes(handler)),
            layers=[layer],
            memory_size=256,
            timeout=timeout,
            role=role.without_policy_updates(),
            log_group=log_group,
            environment={
                "ALERT_TOPIC_ARN": self.topic.topic_arn,
                "IDEMPOTENCY_TABLE": self.idempotency_table.table_name,
                "POWERTOOLS_SERVICE_NAME": f"kmslab-{handler.replace('_', '-')}",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **extra_env,
            },
            dead_letter_queue=dlq,
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            reserved_concurrent_executions=self._reserved_concurrency,
        )
        function.node.add_dependency(policy)  # permissions are in place before the function can run
        # CDK also makes the function depend on its role, which Role: GetAtt already orders (cfn-lint W3005).
        function_resource, policy_resource = function.node.default_child, policy.node.default_child
        assert isinstance(function_resource, CfnResource) and isinstance(policy_resource, CfnResource)
        function_resource.add_override("DependsOn", [self.get_logical_id(policy_resource)])
        if self._reserved_concurrency is None:
            _acknowledge(
                function,
                "NIST.800.53.R5-LambdaConcurrency",
                "Reserving concurrency fails in new accounts (unreserved concurrency must stay >= 10); pass "
                "reserved_concurrency to set it.",
            )
        _acknowledge(
            function,
            "NIST.800.53.R5-LambdaInsideVPC",
            "The function only calls AWS APIs (KMS, CloudTrail, SNS, DynamoDB); a VPC would add NAT or "
            "endpoints and no protection.",
        )
        return function, dlq

    @staticmethod
    def _target(function: lambda_.IFunction, dlq: sqs.IQueue) -> targets.LambdaFunction:
        return targets.LambdaFunction(
            function,
            dead_letter_queue=dlq,
            retry_attempts=8,
            max_event_age=Duration.hours(6),
        )


def _event_pattern(pattern: Mapping[str, Any]) -> events.EventPattern:
    """The CDK form of one of the kit's event patterns (:mod:`kmslab.trail.patterns`)."""
    return events.EventPattern(
        source=list(pattern["source"]), detail_type=list(pattern["detail-type"]), detail=dict(pattern["detail"])
    )
