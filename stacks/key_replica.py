"""A replica of the kit's multi-Region key in a second Region (``multi_region_replica_region``)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks import key_policy
from stacks.config import KitConfig
from stacks.constructs.forwarding import ForwardKmsEvents
from stacks.keys import key_principals

__all__ = ["KeyReplicaStack"]


class KeyReplicaStack(Stack):
    """An ``AWS::KMS::ReplicaKey`` of the multi-Region key, and the forwarding of this Region's KMS events.

    The primary key lives in the keys stack of the home Region. Its ARN crosses Regions, which CloudFormation
    exports cannot do, so this stack is created with ``cross_region_references=True``: CDK writes the ARN to an
    SSM parameter in this Region when the keys stack deploys, and reads it here with a custom resource. The
    workshop roles are global IAM resources and are referenced by name. Rotation is a property of the primary
    key; a replica shares its key material and rotation.

    KMS events of this Region (use of a key pending deletion, scheduled deletions) reach EventBridge in this
    Region only, so a rule here forwards them to the home Region's default bus, where the alerting stack's rules
    and functions handle them.

    Attributes:
        replica_key: The replica key resource.
        replica_key_arn: Its ARN.
        forwarding: The rules that forward this Region's KMS events to the home Region.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: KitConfig, primary_key: kms.IKey, **kwargs: Any
    ) -> None:
        """Create the replica and the event forwarding.

        Args:
            scope: Parent construct (the App).
            construct_id: Stack id.
            config: The kit settings (``multi_region_replica_region`` must be set).
            primary_key: The multi-Region primary key (``KeysStack.multi_region_key``).
            **kwargs: Passed to ``Stack`` (env with the replica Region, cross_region_references=True).
        """
        super().__init__(scope, construct_id, **kwargs)
        admins, _ = key_principals(self, config.key_admin_arns, role_name=f"{config.prefix}-key-admin", create=False)
        users, _ = key_principals(self, config.key_user_arns, role_name=f"{config.prefix}-key-user", create=False)
        document = iam.PolicyDocument(
            statements=[
                key_policy.root_statement(),
                key_policy.admin_statement(admins),
                key_policy.user_statement(users, key_policy.SYMMETRIC_USER_ACTIONS),
                key_policy.aws_resource_grants_statement(users),
            ]
        )
        self.replica_key = kms.CfnReplicaKey(
            self,
            "MultiRegionKeyReplica",
            primary_key_arn=primary_key.key_arn,
            key_policy=document,
            description=f"kmslab multi-Region key replica (primary in {config.region}).",
            pending_window_in_days=config.deletion_window_days,
            enabled=True,
        )
        self.replica_key.apply_removal_policy(config.removal_policy)
        self.replica_key_arn = self.replica_key.attr_arn
        kms.CfnAlias(
            self,
            "MultiRegionKeyReplicaAlias",
            alias_name=f"alias/{config.prefix}/multi-region",
            target_key_id=self.replica_key.attr_key_id,
        )
        self.forwarding = ForwardKmsEvents(self, "ForwardKmsEvents", home_region=config.region)
