"""The analytics stack: query the trail's CloudTrail logs with Athena, using the kit's audit queries.

* a Glue database and the CloudTrail table, generated from :mod:`kmslab.audit.schema` (the very definition
  the offline engine uses), with partition projection on the kit's regions and the day folders;
* an Athena workgroup whose enforced configuration writes results encrypted with the audit key (SSE-KMS) to
  a dedicated results bucket, and cancels any query scanning more than a cutoff;
* one Athena named query per ``kmslab/audit/queries/*.sql`` file, rendered for this table;
* the auditors' policy (:class:`~stacks.constructs.auditor_access.AuditorAccess`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from kmslab.audit.schema import DEFAULT_TABLE, PROJECTION_START
from stacks.config import KitConfig
from stacks.constructs.audit_queries import AuditQueries
from stacks.constructs.auditor_access import AuditorAccess
from stacks.principals import attachable

__all__ = ["DEFAULT_BYTES_SCANNED_CUTOFF", "AnalyticsStack"]

#: Athena cancels a query of this workgroup once it has scanned this many bytes (10 GiB).
DEFAULT_BYTES_SCANNED_CUTOFF = 10 * 1024**3


class AnalyticsStack(Stack):
    """Athena over the trail bucket, and the auditors who may use it.

    Attributes:
        queries: The table, the workgroup, the results bucket and the named queries.
        table, workgroup, results_bucket, named_queries: Shortcuts into ``queries``.
        auditor_access: The auditors' policy, or None when there are no auditors to attach it to.
    """

    def __init__(  # noqa: PLR0913 - keyword-only props
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: KitConfig,
        trail_bucket: s3.IBucket,
        audit_key: kms.IKey,
        auditors: Sequence[iam.IRole] = (),
        auditor_arns: Sequence[str] = (),
        bytes_scanned_cutoff: int = DEFAULT_BYTES_SCANNED_CUTOFF,
        projection_start: str = PROJECTION_START,
        **kwargs: Any,
    ) -> None:
        """Create the table, the workgroup, the queries and the auditors' policy.

        Args:
            scope: the parent construct.
            construct_id: the stack ID.
            config: the kit settings (``prefix``: database ``<prefix>_audit``, workgroup ``<prefix>-audit``;
                ``regions``: the table's region partition).
            trail_bucket: the bucket the trail delivers its log files to.
            audit_key: the KMS key that encrypts query results.
            auditors: roles (of any stack of this account and Region) that get the auditors' policy.
            auditor_arns: configured auditor ARNs: roles get the policy attached by name (see
                :func:`stacks.principals.attachable` for users and roots).
            bytes_scanned_cutoff: bytes one query may scan before Athena cancels it.
            projection_start: the first day (``yyyy/MM/dd``) of the projected ``timestamp`` partition.
            **kwargs: passed to :class:`aws_cdk.Stack`.

        Raises:
            ValueError: the cutoff is below Athena's 10 MB minimum.
        """
        super().__init__(scope, construct_id, **kwargs)
        self.trail_bucket, self.audit_key = trail_bucket, audit_key
        self.queries = AuditQueries(
            self,
            "AuditQueries",
            trail_bucket=trail_bucket,
            audit_key=audit_key,
            regions=config.regions,
            database_name=f"{config.prefix.replace('-', '_')}_audit",
            table_name=DEFAULT_TABLE,
            workgroup_name=f"{config.prefix}-audit",
            bytes_scanned_cutoff=bytes_scanned_cutoff,
            projection_start=projection_start,
        )
        self.table, self.workgroup = self.queries.table, self.queries.workgroup
        self.results_bucket, self.named_queries = self.queries.results_bucket, self.queries.named_queries
        roles = [*auditors, *attachable(self, "Auditor", auditor_arns)]
        self.auditor_access = self.grant_query(roles=roles) if roles else None

    def grant_query(self, *, roles: Sequence[iam.IRole]) -> AuditorAccess:
        """Let roles run the audit queries and read/write the results.

        Args:
            roles: auditor roles (of any stack of this account and Region).

        Returns:
            The auditors' policy, attached to them.
        """
        count = sum(isinstance(child, AuditorAccess) for child in self.node.children)
        return AuditorAccess(
            self,
            "AuditorAccess" if count == 0 else f"AuditorAccess{count}",
            queries=self.queries,
            audit_key=self.audit_key,
            roles=roles,
        )
