"""The audit trail: a multi-Region CloudTrail trail encrypted with the audit key, in its own bucket.

The trail is the L1 ``CfnTrail``: the L2 ``Trail`` always adds bucket statements without ``aws:SourceArn`` and
an inline-policy role for CloudWatch Logs; here both are exactly what CloudTrail needs. Known deployment
failures this avoids: the audit key policy allows CloudTrail before the trail exists (aws-cdk#3822), the
trail depends on its bucket policy so CloudTrail's bucket check passes on create (aws-cdk#20344, #11602), and
the trail bucket has no S3 Bucket Key (aws-cdk#23391, see ``_trail_bucket``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.arns import log_stream_arn, trail_arn
from stacks.buckets import access_log_bucket, kms_bucket
from stacks.config import KitConfig
from stacks.nag import acknowledge, finding_resource

__all__ = ["TrailStack"]

TRAIL_LOG_RETENTION = logs.RetentionDays.ONE_YEAR


class TrailStack(Stack):
    """A multi-Region trail with log file validation, SSE-KMS (audit key) and management events incl. KMS.

    Attributes:
        trail: The ``AWS::CloudTrail::Trail`` resource.
        trail_name: The trail's name.
        trail_arn: The trail's ARN.
        trail_bucket: The trail's own bucket (SSE-KMS with the audit key), not the data bucket.
        access_log_bucket: SSE-S3 bucket receiving the trail bucket's server access logs.
        log_group: The KMS-encrypted CloudWatch Logs group the trail delivers to, or None.
        log_role: The role CloudTrail assumes to write to ``log_group``, or None.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: KitConfig, audit_key: kms.IKey, **kwargs: Any
    ) -> None:
        """Create the trail, its bucket and (optionally) its log group.

        Args:
            scope: Parent construct (the App).
            construct_id: Stack id.
            config: The kit settings.
            audit_key: The key that encrypts log files and the log group (``KeysStack.audit_key``); its key
                policy must already allow CloudTrail and CloudWatch Logs.
            **kwargs: Passed to ``Stack``.
        """
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.trail_name = config.trail_name
        self.trail_arn = trail_arn(self, config.trail_name)
        self.access_log_bucket = access_log_bucket(self, "AccessLogBucket")
        self.trail_bucket = self._trail_bucket(audit_key)
        self.log_group: logs.LogGroup | None = None
        self.log_role: iam.Role | None = None
        if config.trail_cloudwatch_logs:
            self.log_group, self.log_role = self._log_group(audit_key)

        self.trail = cloudtrail.CfnTrail(
            self,
            "Trail",
            trail_name=self.trail_name,
            is_logging=True,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            s3_bucket_name=self.trail_bucket.bucket_name,
            kms_key_id=audit_key.key_arn,
            # Management events include KMS events; ExcludeManagementEventSources is deliberately not set.
            event_selectors=[
                cloudtrail.CfnTrail.EventSelectorProperty(include_management_events=True, read_write_type="All")
            ],
            cloud_watch_logs_log_group_arn=self.log_group.log_group_arn if self.log_group else None,
            cloud_watch_logs_role_arn=self.log_role.role_arn if self.log_role else None,
        )
        # CloudTrail checks the bucket policy when the trail is created: the trail must wait for it. (The log
        # role, and through it its managed policy, are already ordered by the CloudWatchLogsRoleArn reference.)
        assert self.trail_bucket.policy is not None
        self.trail.node.add_dependency(self.trail_bucket.policy)
        if self.log_group is None:
            acknowledge(
                self.trail,
                "NIST.800.53.R5-CloudTrailCloudWatchLogsEnabled",
                "CloudWatch Logs delivery was turned off in the kit config (trail_cloudwatch_logs=false).",
            )

    def grant_read_logs(self, *, roles: Sequence[iam.IRole] = (), users: Sequence[iam.IUser] = ()) -> iam.ManagedPolicy:
        """Let auditors list the trail bucket and read this account's log files (what Athena reads for them).

        Decrypting the files is the audit key policy's business (``AllowAuditorsReadTrail``).

        Args:
            roles: Auditor roles.

        Returns:
            The managed policy, attached to them.
        """
        objects = self.trail_bucket.arn_for_objects(f"AWSLogs/{self.account}/*")
        policy = iam.ManagedPolicy(
            self,
            "TrailReadersPolicy",
            description="Read the kmslab trail's log files (auditors, for the Athena audit queries)",
            roles=list(roles),
            statements=[
                iam.PolicyStatement(
                    sid="ListTheTrail",
                    actions=["s3:ListBucket", "s3:GetBucketLocation"],
                    resources=[self.trail_bucket.bucket_arn],
                ),
                iam.PolicyStatement(sid="ReadTheTrail", actions=["s3:GetObject"], resources=[objects]),
            ],
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{finding_resource(self, objects)}]",
            "Athena reads every log file CloudTrail delivers under this account's AWSLogs/ prefix.",
        )
        return policy

    def _trail_bucket(self, audit_key: kms.IKey) -> s3.Bucket:
        bucket = kms_bucket(
            self,
            "TrailBucket",
            key=audit_key,
            access_logs=self.access_log_bucket,
            access_logs_prefix="trail-bucket/",
            # No S3 Bucket Key here. CloudTrail's guide ("Configure AWS KMS key policies for CloudTrail") says
            # that with a Bucket Key, CloudTrail needs kms:Decrypt to create or update an SSE-KMS trail;
            # without it, creation fails with InsufficientEncryptionPolicyException. Turning the Bucket Key off
            # keeps CloudTrail at GenerateDataKey* + DescribeKey, and keeps the encryption context of each log
            # file the one CloudTrail documents (aws:cloudtrail:arn and the object's aws:s3:arn), which the
            # auditors' Decrypt condition relies on. A trail writes a few files per Region every few minutes,
            # so the KMS calls a Bucket Key would save are few.
            bucket_key=False,
            no_replication_reason="Workshop trail bucket: versioned, retained, digest-validated; "
            "cross-Region replication is out of scope.",
        )
        cloudtrail_principal = iam.ServicePrincipal("cloudtrail.amazonaws.com")
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailAclCheck",
                principals=[cloudtrail_principal],
                actions=["s3:GetBucketAcl"],
                resources=[bucket.bucket_arn],
                conditions={"StringEquals": {"aws:SourceArn": self.trail_arn}},
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudTrailWrite",
                principals=[cloudtrail_principal],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"AWSLogs/{self.account}/*")],
                conditions={
                    "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": self.trail_arn}
                },
            )
        )
        return bucket

    def _log_group(self, audit_key: kms.IKey) -> tuple[logs.LogGroup, iam.Role]:
        log_group = logs.LogGroup(
            self,
            "TrailLogGroup",
            log_group_name=self.config.trail_log_group_name,
            encryption_key=audit_key,
            retention=TRAIL_LOG_RETENTION,
            removal_policy=self.config.removal_policy,
        )
        streams = log_stream_arn(self, self.config.trail_log_group_name, f"{self.account}_CloudTrail_{self.region}*")
        policy = iam.ManagedPolicy(
            self,
            "TrailLogDeliveryPolicy",
            description="CloudTrail delivers the kmslab trail's events to its CloudWatch Logs group.",
            statements=[
                iam.PolicyStatement(
                    sid="AllowTrailLogDelivery",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[streams],
                )
            ],
        )
        role = iam.Role(
            self,
            "TrailLogRole",
            description="Assumed by CloudTrail to write the kmslab trail's events to the trail's log group.",
            # The trust policy CloudTrail documents ("Role policy document for CloudTrail to use CloudWatch Logs
            # for monitoring"): the service principal, no condition. An aws:SourceArn condition here is not one
            # CloudTrail is documented to send on AssumeRole, and has been reported to stop delivery
            # (prowler-cloud/prowler#4714). The role's policy already limits it to this group's streams.
            assumed_by=iam.ServicePrincipal("cloudtrail.amazonaws.com"),
            managed_policies=[policy],
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{finding_resource(self, streams)}]",
            "CloudTrail names its streams <account>_CloudTrail_<region>[_n]; the pattern covers only this group's.",
        )
        return log_group, role
