"""Bucket building blocks the stacks share: the SSE-KMS bucket, the access-log bucket and the encryption guard."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.nag import acknowledge

__all__ = ["access_log_bucket", "deny_unexpected_encryption", "kms_bucket"]

_SSE_HEADER = "s3:x-amz-server-side-encryption"
_SSE_KEY_HEADER = "s3:x-amz-server-side-encryption-aws-kms-key-id"


def kms_bucket(
    scope: Construct,
    construct_id: str,
    *,
    key: kms.IKey,
    access_logs: s3.IBucket,
    access_logs_prefix: str,
    no_replication_reason: str,
    lifecycle_rules: list[s3.LifecycleRule] | None = None,
) -> s3.Bucket:
    """A kit bucket: SSE-KMS under ``key`` with S3 Bucket Keys, TLS only, no public access, owner-enforced,
    versioned, server access logs to ``access_logs``, retained.

    Args:
        scope: Parent construct.
        construct_id: Construct id.
        key: The KMS key that encrypts every object by default.
        access_logs: The bucket that receives this bucket's server access logs.
        access_logs_prefix: The key prefix of this bucket's access logs.
        no_replication_reason: Why this bucket needs no cross-Region replication (the NIST rule's acknowledgement).
        lifecycle_rules: Expiry rules, if the contents are temporary.

    Returns:
        The bucket.
    """
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=True,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_logs_prefix,
        lifecycle_rules=lifecycle_rules,
        removal_policy=RemovalPolicy.RETAIN,
    )
    resource = bucket.node.default_child
    assert isinstance(resource, s3.CfnBucket)
    acknowledge(resource, "NIST.800.53.R5-S3BucketReplicationEnabled", no_replication_reason)
    return bucket


def access_log_bucket(scope: Construct, construct_id: str) -> s3.Bucket:
    """A bucket that receives S3 server access logs: SSE-S3, TLS only, no public access, versioned.

    S3 log delivery writes with SSE-S3; an SSE-KMS target would need the logging service principal in a
    customer key policy, which the kit keeps limited to CloudTrail and CloudWatch Logs. Buckets are always
    retained: CloudFormation cannot delete a non-empty bucket, and access logs are audit evidence. cdk-nag
    recognises the bucket as a server access log target, so it needs no access logs of its own.

    Args:
        scope: Parent construct.
        construct_id: Construct id.

    Returns:
        The bucket (its policy lets ``logging.s3.amazonaws.com`` write, added by CDK per source bucket).
    """
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    resource = bucket.node.default_child
    assert isinstance(resource, s3.CfnBucket)
    acknowledge(
        resource,
        "NIST.800.53.R5-S3DefaultEncryptionKMS",
        "S3 server access log target: SSE-S3 so the S3 logging service needs no use of a customer managed key.",
    )
    acknowledge(
        resource,
        "NIST.800.53.R5-S3BucketReplicationEnabled",
        "Workshop access logs: versioned and retained in one Region; cross-Region replication is out of scope.",
    )
    return bucket


def deny_unexpected_encryption(bucket: s3.Bucket, key: kms.IKey) -> None:
    """Deny uploads that ask for any encryption other than SSE-KMS with ``key``.

    The bucket's default encryption already encrypts every upload that sends no encryption headers with
    ``key`` (SSE-KMS, bucket key on), so AWS recommends relying on default encryption rather than denying
    header-less uploads (which breaks clients that do not send the header). What default encryption cannot
    stop is a client that *asks* for something else: SSE-S3 (``AES256``), DSSE-KMS, or SSE-KMS with another
    key. These two statements deny exactly those requests: each applies only when the header is present
    (``Null: false``) and differs from the expected value.

    Args:
        bucket: The bucket whose policy gets the statements.
        key: The only KMS key uploads may name.
    """
    objects = bucket.arn_for_objects("*")
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyNonKmsEncryptionHeader",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject"],
            resources=[objects],
            conditions={"StringNotEquals": {_SSE_HEADER: "aws:kms"}, "Null": {_SSE_HEADER: "false"}},
        )
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyOtherKmsKey",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject"],
            resources=[objects],
            conditions={"StringNotEquals": {_SSE_KEY_HEADER: key.key_arn}, "Null": {_SSE_KEY_HEADER: "false"}},
        )
    )
