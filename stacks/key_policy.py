"""Key policy statements the kit's keys share: one function per statement, each with a fixed Sid.

The policies are built explicitly rather than with the CDK default ("trust the account" only) so that the
template shows who may administer a key and who may use it, and so the tests can prove that the two sets of
actions never overlap.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam

__all__ = [
    "ADMIN_ACTIONS",
    "GRANT_ACTIONS",
    "HMAC_USER_ACTIONS",
    "SIGNING_USER_ACTIONS",
    "SYMMETRIC_USER_ACTIONS",
    "admin_statement",
    "aws_resource_grants_statement",
    "root_statement",
    "user_statement",
]

#: Key administration: manage the key's life cycle, never use it for cryptography.
#:
#: Two actions are left out on purpose, because each would let an administrator give itself use of the key:
#: ``kms:CreateGrant`` (``kms:Create*``) grants Decrypt, and ``kms:PutKeyPolicy`` (``kms:Put*``) rewrites the
#: policy. Key policy changes go through CloudFormation: the stack's deployment (CloudFormation execution)
#: role gets ``kms:PutKeyPolicy`` from its IAM policy through ``EnableIamPolicies``. The key policy cannot stop
#: a principal whose *IAM* policies allow ``kms:PutKeyPolicy`` or ``kms:*`` (AdministratorAccess): keep those
#: away from key administrators (README, "What the key policies guarantee").
ADMIN_ACTIONS = (
    "kms:CreateAlias",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
)
#: Cryptographic use of a symmetric encryption key.
SYMMETRIC_USER_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey")
#: Cryptographic use of an asymmetric SIGN_VERIFY key.
SIGNING_USER_ACTIONS = ("kms:Sign", "kms:Verify", "kms:GetPublicKey", "kms:DescribeKey")
#: Cryptographic use of an HMAC GENERATE_VERIFY_MAC key.
HMAC_USER_ACTIONS = ("kms:GenerateMac", "kms:VerifyMac", "kms:DescribeKey")
#: Grants that integrated AWS services (S3, EBS, ...) create on behalf of a key user.
GRANT_ACTIONS = ("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant")


def root_statement() -> iam.PolicyStatement:
    """The account may use IAM policies to allow access to the key (without this, only the key policy counts).

    Returns:
        The ``EnableIamPolicies`` statement.
    """
    return iam.PolicyStatement(
        sid="EnableIamPolicies",
        principals=[iam.AccountRootPrincipal()],
        actions=["kms:*"],
        resources=["*"],
    )


def admin_statement(admins: Sequence[iam.IPrincipal]) -> iam.PolicyStatement:
    """Key administrators manage the key and cannot encrypt, decrypt or generate data keys.

    Args:
        admins: The key administrators.

    Returns:
        The ``AllowKeyAdministration`` statement.
    """
    return iam.PolicyStatement(
        sid="AllowKeyAdministration",
        principals=list(admins),
        actions=list(ADMIN_ACTIONS),
        resources=["*"],
    )


def user_statement(users: Sequence[iam.IPrincipal], actions: Sequence[str]) -> iam.PolicyStatement:
    """Key users may use the key for the cryptographic operations its usage allows.

    Args:
        users: The key users.
        actions: The cryptographic actions (one of the ``*_USER_ACTIONS`` tuples).

    Returns:
        The ``AllowKeyUse`` statement.
    """
    return iam.PolicyStatement(sid="AllowKeyUse", principals=list(users), actions=list(actions), resources=["*"])


def aws_resource_grants_statement(users: Sequence[iam.IPrincipal]) -> iam.PolicyStatement:
    """Key users may create, list and revoke grants only for AWS services acting on their behalf.

    Args:
        users: The key users.

    Returns:
        The ``AllowGrantsForAwsResources`` statement.
    """
    return iam.PolicyStatement(
        sid="AllowGrantsForAwsResources",
        principals=list(users),
        actions=list(GRANT_ACTIONS),
        resources=["*"],
        conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
    )
