"""Build the whole kit into an App: the one place that instantiates stacks and wires them together."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk

from stacks.alerting import AlertingStack
from stacks.analytics import AnalyticsStack
from stacks.config import KitConfig
from stacks.key_replica import KeyReplicaStack
from stacks.keys import KeysStack
from stacks.principals import attachable
from stacks.storage import StorageStack
from stacks.trail import TrailStack

__all__ = ["Kit", "build_kit"]


@dataclass(frozen=True)
class Kit:
    """The kit's stacks, as ``build_kit`` created them.

    Attributes:
        config: The settings the kit was built with.
        keys: KMS keys (data, audit, optional signing/HMAC/multi-Region primary).
        storage: Data bucket and its access-log bucket.
        trail: CloudTrail trail, its bucket and log group.
        analytics: Glue table, Athena workgroup and the audit named queries over the trail bucket.
        alerting: Alerts on use of keys pending deletion and on scheduled deletions (SNS, Lambda, EventBridge).
        key_replica: Replica of the multi-Region key in ``multi_region_replica_region`` (and the forwarding of
            that Region's KMS events home), or None.
    """

    config: KitConfig
    keys: KeysStack
    storage: StorageStack
    trail: TrailStack
    analytics: AnalyticsStack
    alerting: AlertingStack
    key_replica: KeyReplicaStack | None = None

    def stacks(self) -> dict[str, cdk.Stack]:
        """Every stack of the kit by attribute name (stacks added to ``Kit`` later are picked up).

        Returns:
            Mapping of attribute name to stack.
        """
        return {name: value for name, value in vars(self).items() if isinstance(value, cdk.Stack)}


def build_kit(app: cdk.App, config: KitConfig) -> Kit:
    """Instantiate the kit's stacks in ``app`` for ``config``.

    Args:
        app: The CDK app.
        config: The validated settings.

    Returns:
        The stacks, typed.
    """
    env = cdk.Environment(account=config.account, region=config.region)
    name = config.stack_prefix
    replica_region = config.multi_region_replica_region
    keys = KeysStack(
        app,
        f"{name}Keys",
        config=config,
        env=env,
        description="kmslab: KMS keys and key policies",
        cross_region_references=replica_region is not None,
    )
    storage = StorageStack(
        app,
        f"{name}Storage",
        config=config,
        data_key=keys.data_key,
        user_role=keys.user_role,
        env=env,
        description="kmslab: SSE-KMS data bucket and access logs",
    )
    trail = TrailStack(
        app,
        f"{name}Trail",
        config=config,
        audit_key=keys.audit_key,
        env=env,
        description="kmslab: multi-Region CloudTrail trail encrypted with the audit key",
    )
    readers = [*([keys.auditor_role] if keys.auditor_role else []), *attachable(trail, "Auditor", config.auditor_arns)]
    if readers:
        trail.grant_read_logs(roles=readers)
    analytics = AnalyticsStack(
        app,
        f"{name}Analytics",
        config=config,
        trail_bucket=trail.trail_bucket,
        audit_key=keys.audit_key,
        auditors=[keys.auditor_role] if keys.auditor_role else [],
        auditor_arns=config.auditor_arns,
        env=env,
        description="kmslab: Glue table and Athena queries over the trail's KMS events",
    )
    alerting = AlertingStack(
        app,
        f"{name}Alerting",
        config=config,
        trail_log_group=trail.log_group,
        env=env,
        description="kmslab: alerts on use of KMS keys pending deletion and on scheduled deletions",
    )
    key_replica = None
    if replica_region is not None and keys.multi_region_key is not None:
        key_replica = KeyReplicaStack(
            app,
            f"{name}KeyReplica",
            config=config,
            primary_key=keys.multi_region_key,
            env=cdk.Environment(account=config.account, region=replica_region),
            cross_region_references=True,
            description="kmslab: replica of the multi-Region key, and KMS events forwarded to the home Region",
        )
    return Kit(
        config=config,
        keys=keys,
        storage=storage,
        trail=trail,
        analytics=analytics,
        alerting=alerting,
        key_replica=key_replica,
    )
