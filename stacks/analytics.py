"""The analytics stack: query the trail's CloudTrail logs with Athena, using the kit's audit queries.

* a Glue database and the CloudTrail table, generated from :mod:`kmslab.audit.schema` (the very
  definition the offline engine uses), with partition projection on the day folders;
* an Athena workgroup whose enforced configuration writes results encrypted with the audit key
  (SSE-KMS) to a dedicated results bucket, and cancels any query scanning more than a cutoff;
* one Athena named query per ``kmslab/audit/queries/*.sql`` file, rendered for this table.
"""

from __future__ import annotations

from typing import Protocol

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from kmslab.audit.queries import DEFAULT_DAYS, load_queries, render
from kmslab.audit.schema import DEFAULT_TABLE, glue_table_input
from stacks.buckets import access_log_bucket, kms_bucket
from stacks.nag import acknowledge

#: Athena cancels a query of this workgroup once it has scanned this many bytes (10 GiB).
DEFAULT_BYTES_SCANNED_CUTOFF = 10 * 1024**3
RESULTS_PREFIX = "athena-results/"


class AnalyticsConfig(Protocol):
    """The part of the kit configuration this stack reads (``stacks.config.KitConfig`` fits)."""

    @property
    def prefix(self) -> str:
        """Lower-case name prefix: the database is ``<prefix>_audit``, the workgroup ``<prefix>-audit``."""
        ...


class AnalyticsStack(Stack):
    """Athena over the trail bucket: Glue table, encrypted and capped workgroup, the audit named queries.

    Args:
        scope: the parent construct.
        construct_id: the stack ID.
        config: the kit configuration.
        trail_bucket: the bucket the trail delivers its log files to.
        audit_key: the KMS key that encrypts query results.
        database_name: the Glue database name (default ``<prefix>_audit``).
        table_name: the CloudTrail table name.
        workgroup_name: the Athena workgroup name (default ``<prefix>-audit``).
        bytes_scanned_cutoff: bytes one query may scan before Athena cancels it.
        projection_start: the first day (``yyyy/MM/dd``) of the projected ``timestamp`` partition.
        **kwargs: passed to :class:`aws_cdk.Stack`.

    Raises:
        ValueError: the cutoff is below Athena's 10 MB minimum.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AnalyticsConfig,
        trail_bucket: s3.IBucket,
        audit_key: kms.IKey,
        database_name: str | None = None,
        table_name: str = DEFAULT_TABLE,
        workgroup_name: str | None = None,
        bytes_scanned_cutoff: int = DEFAULT_BYTES_SCANNED_CUTOFF,
        projection_start: str = "2024/01/01",
        **kwargs: object,
    ) -> None:
        if bytes_scanned_cutoff < 10_000_000:
            raise ValueError("Athena's bytes-scanned cutoff must be at least 10 MB (10000000 bytes)")
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        database_name = database_name or f"{config.prefix.replace('-', '_')}_audit"
        workgroup_name = workgroup_name or f"{config.prefix}-audit"
        self.config = config
        self.trail_bucket = trail_bucket
        self.audit_key = audit_key

        # creating the bucket the results bucket's access logs go to (server access logs need SSE-S3)
        self.access_logs_bucket = access_log_bucket(self, "ResultsAccessLogs")

        # creating the results bucket: SSE-KMS with the audit key, no public access, TLS only, versioned
        self.results_bucket = kms_bucket(
            self,
            "QueryResults",
            key=audit_key,
            access_logs=self.access_logs_bucket,
            access_logs_prefix="query-results/",
            lifecycle_rules=[
                s3.LifecycleRule(expiration=Duration.days(30), noncurrent_version_expiration=Duration.days(7))
            ],
            no_replication_reason="Query results are reproducible from the trail and expire after 30 days; "
            "replication adds nothing.",
        )

        # creating the Glue database and the CloudTrail table from the one schema definition
        self.database = glue.CfnDatabase(
            self,
            "AuditDatabase",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=database_name, description="kmslab: CloudTrail logs of KMS calls, for Athena"
            ),
        )
        table_input = glue_table_input(
            name=table_name,
            bucket=trail_bucket.bucket_name,
            account=Aws.ACCOUNT_ID,
            region=Aws.REGION,
            start=projection_start,
        )
        self.table = glue.CfnTable(
            self,
            "CloudTrailTable",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=database_name,
            table_input=_table_input_property(table_input),
        )
        self.table.add_resource_dependency(self.database)

        # creating the workgroup: enforced settings, encrypted results, a per-query scan cutoff
        self.workgroup = athena.CfnWorkGroup(
            self,
            "AuditWorkGroup",
            name=workgroup_name,
            description="kmslab audit queries over CloudTrail (results encrypted with the audit key)",
            state="ENABLED",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=bytes_scanned_cutoff,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=self.results_bucket.s3_url_for_object(RESULTS_PREFIX),
                    expected_bucket_owner=Aws.ACCOUNT_ID,
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=audit_key.key_arn
                    ),
                ),
            ),
        )

        # creating one named query per audit SQL file, for this table
        qualified = f"{database_name}.{table_name}"
        self.named_queries: dict[str, athena.CfnNamedQuery] = {}
        for query in load_queries():
            named = athena.CfnNamedQuery(
                self,
                f"Query-{query.name}",
                name=query.name,
                description=query.description[:1024],
                database=database_name,
                work_group=self.workgroup.ref,  # the Ref makes every named query depend on the workgroup
                query_string=render(query, table=qualified, days=DEFAULT_DAYS),
            )
            named.add_resource_dependency(self.table)
            self.named_queries[query.name] = named

    def _results_resource(self) -> s3.CfnBucket:
        resource = self.results_bucket.node.default_child
        assert isinstance(resource, s3.CfnBucket)
        return resource

    def grant_query(self, role: iam.IRole) -> iam.ManagedPolicy:
        """Let a role run the audit queries in this workgroup and read their results.

        The permissions live in one managed policy of this stack, attached to the role, so a role
        defined in another stack (the keys stack's user role) does not make that stack depend on
        this one. Athena reads the log files with the caller's permissions: the role also needs
        ``s3:GetObject``/``s3:ListBucket`` on the trail bucket's ``AWSLogs/`` objects and
        ``kms:Decrypt`` on the trail's key, which the trail stack (owner of that bucket) grants.

        Args:
            role: the role.

        Returns:
            The managed policy.
        """
        stack = Stack.of(self)
        workgroup_arn = stack.format_arn(service="athena", resource="workgroup", resource_name=self.workgroup.ref)
        catalog = [
            stack.format_arn(service="glue", resource="catalog"),
            stack.format_arn(service="glue", resource="database", resource_name=self.database.ref),
            stack.format_arn(service="glue", resource="table", resource_name=f"{self.database.ref}/{self.table.ref}"),
        ]
        policy = iam.ManagedPolicy(
            self,
            f"AuditQueryPolicy{len([c for c in self.node.children if isinstance(c, iam.ManagedPolicy)])}",
            description="Run the kmslab audit queries in Athena and read their results",
            roles=[role],
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
                    resources=catalog,
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
                    resources=[
                        self.results_bucket.bucket_arn,
                        self.results_bucket.arn_for_objects(f"{RESULTS_PREFIX}*"),
                    ],
                ),
                iam.PolicyStatement(
                    sid="UseTheAuditKey",
                    actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    resources=[self.audit_key.key_arn],
                ),
            ],
        )
        results_id = stack.resolve(stack.get_logical_id(self._results_resource()))
        policy_resource = policy.node.default_child
        assert policy_resource is not None
        acknowledge(
            policy_resource,
            f"AwsSolutions-IAM5[Resource::<{results_id}.Arn>/{RESULTS_PREFIX}*]",
            "Athena writes each query's result objects under the workgroup's results prefix, one name per query.",
        )
        return policy


def _table_input_property(table_input: dict[str, object]) -> glue.CfnTable.TableInputProperty:
    """Return the schema's Glue ``TableInput`` dict as the CDK property object."""
    storage = table_input["StorageDescriptor"]
    assert isinstance(storage, dict)
    serde = storage["SerdeInfo"]
    assert isinstance(serde, dict)
    columns = storage["Columns"]
    partitions = table_input["PartitionKeys"]
    parameters = table_input["Parameters"]
    assert isinstance(columns, list) and isinstance(partitions, list) and isinstance(parameters, dict)
    return glue.CfnTable.TableInputProperty(
        name=str(table_input["Name"]),
        description=str(table_input["Description"]),
        table_type=str(table_input["TableType"]),
        parameters=parameters,
        partition_keys=[glue.CfnTable.ColumnProperty(name=c["Name"], type=c["Type"]) for c in partitions],
        storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
            columns=[glue.CfnTable.ColumnProperty(name=c["Name"], type=c["Type"]) for c in columns],
            location=str(storage["Location"]),
            input_format=str(storage["InputFormat"]),
            output_format=str(storage["OutputFormat"]),
            serde_info=glue.CfnTable.SerdeInfoProperty(
                serialization_library=str(serde["SerializationLibrary"]), parameters=serde["Parameters"]
            ),
        ),
    )
