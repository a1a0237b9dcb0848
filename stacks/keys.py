"""The kit's KMS keys: a data key, an audit key for CloudTrail, and optional signing, HMAC and multi-Region keys.

The multi-Region key is a key of its own (logical ID ``MultiRegionKey``), never the data key switched to
multi-Region: ``MultiRegion`` cannot change on an existing key ("If you change the value of the MultiRegion
property on an existing KMS key, the update request fails", AWS::KMS::Key in the CloudFormation reference), so
turning ``multi_region_replica_region`` on after the first deploy adds a key instead of failing the update.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks import key_policy
from stacks.arns import log_group_arn, trail_arn
from stacks.config import KitConfig

__all__ = ["KeysStack", "key_principals"]


def key_principals(
    scope: Construct, arns: tuple[str, ...], *, role_name: str, create: bool
) -> tuple[list[iam.IPrincipal], iam.Role | None]:
    """Principals for a key policy: the configured ARNs, or the kit's workshop role.

    Args:
        scope: Where the role (or the imported principals) live.
        arns: Configured principal ARNs; empty means "use the workshop role".
        role_name: Name of the workshop role.
        create: Create the workshop role (True) or import it by name (False, e.g. in a replica Region).

    Returns:
        The principals, and the created role (None when ARNs were configured or the role was imported).
    """
    if arns:
        return [iam.ArnPrincipal(arn) for arn in arns], None
    if not create:
        return [iam.Role.from_role_name(scope, f"{role_name}-ref", role_name)], None
    role = iam.Role(
        scope,
        role_name,
        role_name=role_name,
        assumed_by=iam.AccountRootPrincipal(),
        description=f"Workshop principal of the kmslab key policies ({role_name}); assumable from this account.",
        max_session_duration=Duration.hours(1),
    )
    return [role], role


class KeysStack(Stack):
    """Customer managed keys with explicit key policies that separate administrators from users.

    Attributes:
        data_key: Symmetric key for application data (S3 SSE-KMS, envelope encryption), rotation on.
        audit_key: Symmetric key for CloudTrail log files and the trail's CloudWatch Logs group, rotation on.
        signing_key: Asymmetric SIGN_VERIFY key, or None.
        hmac_key: HMAC_256 GENERATE_VERIFY_MAC key, or None.
        multi_region_key: Multi-Region primary key replicated to ``multi_region_replica_region``, or None.
        admin_principals: Principals in the ``AllowKeyAdministration`` statements.
        user_principals: Principals in the ``AllowKeyUse`` statements.
        auditor_principals: Principals that may decrypt the trail's log files (``AllowAuditorsReadTrail``).
        admin_role: The workshop key-admin role the stack created, or None.
        user_role: The workshop key-user role the stack created, or None.
        auditor_role: The workshop auditor role the stack created, or None.
        trail_arn: ARN of the kit's trail (built from its name; the trail lives in the trail stack).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: KitConfig, **kwargs: Any) -> None:
        """Create the keys.

        Args:
            scope: Parent construct (the App).
            construct_id: Stack id.
            config: The kit settings.
            **kwargs: Passed to ``Stack`` (env, description, ...).
        """
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.admin_principals, self.admin_role = key_principals(
            self, config.key_admin_arns, role_name=f"{config.prefix}-key-admin", create=True
        )
        self.user_principals, self.user_role = key_principals(
            self, config.key_user_arns, role_name=f"{config.prefix}-key-user", create=True
        )
        self.auditor_principals, self.auditor_role = key_principals(
            self, config.auditor_arns, role_name=f"{config.prefix}-auditor", create=True
        )
        # The trail is in another stack: its ARN comes from the configured name, not from a cross-stack token,
        # so the key policy (needed before the trail can be created) has no dependency on the trail stack.
        self.trail_arn = trail_arn(self, config.trail_name)

        self.data_key = self._data_key()
        self.audit_key = self._audit_key()
        self.signing_key = self._signing_key() if config.signing_key else None
        self.hmac_key = self._hmac_key() if config.hmac_key else None
        self.multi_region_key = self._multi_region_key() if config.multi_region_replica_region else None

    def _base_statements(self) -> list[iam.PolicyStatement]:
        return [key_policy.root_statement(), key_policy.admin_statement(self.admin_principals)]

    def _key(
        self,
        construct_id: str,
        *,
        alias: str,
        description: str,
        statements: list[iam.PolicyStatement],
        key_spec: kms.KeySpec = kms.KeySpec.SYMMETRIC_DEFAULT,
        key_usage: kms.KeyUsage = kms.KeyUsage.ENCRYPT_DECRYPT,
        multi_region: bool = False,
    ) -> kms.Key:
        symmetric = key_spec == kms.KeySpec.SYMMETRIC_DEFAULT
        return kms.Key(
            self,
            construct_id,
            alias=f"alias/{self.config.prefix}/{alias}",
            description=description,
            key_spec=key_spec,
            key_usage=key_usage,
            # Only symmetric encryption keys support automatic rotation.
            enable_key_rotation=symmetric,
            rotation_period=Duration.days(self.config.rotation_period_days) if symmetric else None,
            pending_window=Duration.days(self.config.deletion_window_days),
            removal_policy=self.config.removal_policy,
            multi_region=multi_region or None,
            policy=iam.PolicyDocument(statements=statements),
        )

    def _symmetric_statements(self) -> list[iam.PolicyStatement]:
        """The policy of a symmetric key the users encrypt with (and let AWS services use for them)."""
        users = self.user_principals
        return [
            *self._base_statements(),
            key_policy.user_statement(users, key_policy.SYMMETRIC_USER_ACTIONS),
            key_policy.aws_resource_grants_statement(users),
        ]

    def _data_key(self) -> kms.Key:
        return self._key(
            "DataKey",
            alias="data",
            description="kmslab data key: encrypts application data (S3 SSE-KMS, envelope encryption).",
            statements=self._symmetric_statements(),
        )

    def _multi_region_key(self) -> kms.Key:
        return self._key(
            "MultiRegionKey",
            alias="multi-region",
            description="kmslab multi-Region key: primary of the replica in multi_region_replica_region.",
            statements=self._symmetric_statements(),
            multi_region=True,
        )

    def _audit_key(self) -> kms.Key:
        account, region = self.account, self.region
        trail_context = f"arn:{self.partition}:cloudtrail:*:{account}:trail/*"
        trail_log_group = log_group_arn(self, self.config.trail_log_group_name)
        cloudtrail = iam.ServicePrincipal("cloudtrail.amazonaws.com")
        statements = [
            *self._base_statements(),
            iam.PolicyStatement(
                sid="AllowCloudTrailEncryptLogs",
                principals=[cloudtrail],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trail_context},
                    "StringEquals": {"aws:SourceArn": self.trail_arn},
                },
            ),
            iam.PolicyStatement(
                sid="AllowCloudTrailDescribeKey",
                principals=[cloudtrail],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceArn": self.trail_arn}},
            ),
            iam.PolicyStatement(
                sid="AllowAuditorsReadTrail",
                principals=list(self.auditor_principals),
                actions=["kms:Decrypt", "kms:ReEncryptFrom"],
                resources=["*"],
                conditions={
                    "StringEquals": {"kms:CallerAccount": account},
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trail_context},
                },
            ),
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsTrailGroup",
                principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": trail_log_group}},
            ),
        ]
        return self._key(
            "AuditKey",
            alias="audit",
            description="kmslab audit key: encrypts CloudTrail log files, digests and the trail log group.",
            statements=statements,
        )

    def _signing_key(self) -> kms.Key:
        spec = self.config.signing_key
        assert spec is not None
        return self._key(
            "SigningKey",
            alias="signing",
            description=f"kmslab signing key ({spec}, SIGN_VERIFY).",
            statements=[
                *self._base_statements(),
                key_policy.user_statement(self.user_principals, key_policy.SIGNING_USER_ACTIONS),
            ],
            key_spec=kms.KeySpec(spec),
            key_usage=kms.KeyUsage.SIGN_VERIFY,
        )

    def _hmac_key(self) -> kms.Key:
        return self._key(
            "HmacKey",
            alias="hmac",
            description="kmslab HMAC key (HMAC_256, GENERATE_VERIFY_MAC).",
            statements=[
                *self._base_statements(),
                key_policy.user_statement(self.user_principals, key_policy.HMAC_USER_ACTIONS),
            ],
            key_spec=kms.KeySpec.HMAC_256,
            key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
        )
