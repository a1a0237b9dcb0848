"""A replica of the multi-Region data key in a second Region (``multi_region_replica_region``)."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks import key_policy
from stacks.config import KitConfig
from stacks.keys import key_principals, removal_policy

__all__ = ["KeyReplicaStack"]


class KeyReplicaStack(Stack):
    """A ``AWS::KMS::ReplicaKey`` of the data key, with the same key policy shape, in the replica Region.

    The primary key's ARN is only known once the keys stack is deployed in the primary Region, so the stack is
    created with ``cross_region_references=True`` (CDK passes the ARN through an SSM parameter in this Region).
    The workshop roles are global IAM resources: they are referenced by name, not by a cross-Region token.
    Rotation is a property of the primary key; replicas share its key material and rotation.

    Attributes:
        replica_key: The replica key resource.
        replica_key_arn: Its ARN.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: KitConfig, primary_key: kms.IKey, **kwargs: Any
    ) -> None:
        """Create the replica.

        Args:
            scope: Parent construct (the App).
            construct_id: Stack id.
            config: The kit settings (``multi_region_replica_region`` must be set).
            primary_key: The multi-Region primary key (``KeysStack.data_key``).
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
            "DataKeyReplica",
            primary_key_arn=primary_key.key_arn,
            key_policy=document,
            description=f"kmslab data key replica (primary in {config.region}).",
            pending_window_in_days=config.deletion_window_days,
            enabled=True,
        )
        policy = removal_policy(config)
        self.replica_key.apply_removal_policy(policy if policy == RemovalPolicy.DESTROY else RemovalPolicy.RETAIN)
        self.replica_key_arn = self.replica_key.attr_arn
        kms.CfnAlias(
            self,
            "DataKeyReplicaAlias",
            alias_name=f"alias/{config.prefix}/data",
            target_key_id=self.replica_key.attr_key_id,
        )
