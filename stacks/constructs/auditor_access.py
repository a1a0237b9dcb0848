"""What an auditor needs to run the audit queries: one managed policy, least privilege, attached to the auditors."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.constructs.audit_queries import RESULTS_PREFIX, AuditQueries
from stacks.nag import acknowledge, finding_resource

__all__ = ["AuditorAccess"]


class AuditorAccess(Construct):
    """Run the audit queries in the workgroup and read/write the query results.

    Athena reads the log files and writes the results with the caller's permissions, so the auditor needs S3
    and KMS rights of its own. Reading the trail bucket is granted by its owner, the trail stack
    (``TrailStack.grant_read_logs``). The KMS rights come from two places, one per encryption context:

    * trail log files (no Bucket Key): the audit key *policy* lets auditors Decrypt with the
      ``aws:cloudtrail:arn`` context (``AllowAuditorsReadTrail`` in the keys stack);
    * query results (Bucket Key on): this policy allows Decrypt and GenerateDataKey on the audit key only
      with ``aws:s3:arn`` = the results bucket's ARN, the context S3 sends for a bucket with a Bucket Key.

    Attributes:
        policy: The managed policy.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queries: AuditQueries,
        audit_key: kms.IKey,
        roles: Sequence[iam.IRole],
    ) -> None:
        """Create the policy and attach it.

        Args:
            scope: Parent construct.
            construct_id: Construct id.
            queries: The workgroup, table and results bucket.
            audit_key: The key of the query results.
            roles: Auditor roles to attach the policy to.
        """
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        database, table = queries.database.ref, queries.table.ref
        workgroup_arn = stack.format_arn(service="athena", resource="workgroup", resource_name=queries.workgroup.ref)
        result_objects = queries.results_bucket.arn_for_objects(f"{RESULTS_PREFIX}*")
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Run the kmslab audit queries in Athena and read and write their results",
            roles=list(roles),
            statements=[
                iam.PolicyStatement(
                    sid="RunAuditQueries",
                    actions=[
                        "athena:StartQueryExecution",
                        "athena:GetQueryExecution",
                        "athena:GetQueryResults",
                        "athena:StopQueryExecution",
                        "athena:GetWorkGroup",
                        "athena:ListNamedQueries",
                        "athena:GetNamedQuery",
                        "athena:BatchGetNamedQuery",
                    ],
                    resources=[workgroup_arn],
                ),
                iam.PolicyStatement(
                    sid="ReadTheTable",
                    actions=["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
                    resources=[
                        stack.format_arn(service="glue", resource="catalog"),
                        stack.format_arn(service="glue", resource="database", resource_name=database),
                        stack.format_arn(service="glue", resource="table", resource_name=f"{database}/{table}"),
                    ],
                ),
                iam.PolicyStatement(
                    sid="ReadWriteResults",
                    actions=[
                        "s3:GetObject",
                        "s3:PutObject",
                        "s3:ListBucket",
                        "s3:GetBucketLocation",
                        "s3:AbortMultipartUpload",
                        "s3:ListMultipartUploadParts",
                    ],
                    resources=[queries.results_bucket.bucket_arn, result_objects],
                ),
                iam.PolicyStatement(
                    sid="UseTheAuditKeyForResults",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[audit_key.key_arn],
                    conditions={
                        "StringEquals": {"kms:EncryptionContext:aws:s3:arn": queries.results_bucket.bucket_arn}
                    },
                ),
            ],
        )
        acknowledge(
            self.policy,
            f"AwsSolutions-IAM5[Resource::{finding_resource(stack, result_objects)}]",
            "Athena writes each query's result objects under the workgroup's results prefix, one name per query.",
        )
