"""Athena over the trail bucket: the Glue table from the one schema, a capped and encrypted workgroup, the queries."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from kmslab.audit.queries import DEFAULT_DAYS, load_queries, render
from kmslab.audit.schema import glue_table_input
from stacks.buckets import access_log_bucket, kms_bucket

__all__ = ["MIN_BYTES_SCANNED_CUTOFF", "RESULTS_PREFIX", "AuditQueries"]

RESULTS_PREFIX = "athena-results/"
#: Athena's smallest per-query scan cutoff (10 MB).
MIN_BYTES_SCANNED_CUTOFF = 10_000_000


class AuditQueries(Construct):
    """The Glue database and CloudTrail table, the workgroup, its results bucket and one named query per SQL file.

    Attributes:
        results_bucket: SSE-KMS (audit key, Bucket Key on) bucket of query results, expiring after 30 days.
        access_logs_bucket: Receives the results bucket's server access logs.
        database: The Glue database.
        table: The CloudTrail table (partition projection on ``region`` and ``timestamp``).
        workgroup: The workgroup (enforced settings, encrypted results, a scan cutoff).
        named_queries: Query name -> named query.
    """

    def __init__(  # noqa: PLR0913 - keyword-only props
        self,
        scope: Construct,
        construct_id: str,
        *,
        trail_bucket: s3.IBucket,
        audit_key: kms.IKey,
        regions: tuple[str, ...],
        database_name: str,
        table_name: str,
        workgroup_name: str,
        bytes_scanned_cutoff: int,
        projection_start: str,
    ) -> None:
        """Create the queries' resources.

        Args:
            scope: Parent construct.
            construct_id: Construct id.
            trail_bucket: The bucket the trail delivers to.
            audit_key: The key that encrypts query results.
            regions: The regions of the ``region`` partition (the kit's regions).
            database_name: The Glue database name.
            table_name: The CloudTrail table name.
            workgroup_name: The Athena workgroup name.
            bytes_scanned_cutoff: Bytes one query may scan before Athena cancels it.
            projection_start: The first projected day (``yyyy/MM/dd``).

        Raises:
            ValueError: The cutoff is below Athena's 10 MB minimum.
        """
        if bytes_scanned_cutoff < MIN_BYTES_SCANNED_CUTOFF:
            raise ValueError("Athena's bytes-scanned cutoff must be at least 10 MB (10000000 bytes)")
        super().__init__(scope, construct_id)
        self.access_logs_bucket = access_log_bucket(self, "ResultsAccessLogs")
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
            regions=regions,
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
            serde_info=glue.CfnTable.SerdeInfoProperty(serialization_library=str(serde["SerializationLibrary"])),
        ),
    )
