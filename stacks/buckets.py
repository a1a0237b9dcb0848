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
    bucket_key: bool = True,
    bucket_name: str | None = None,
) -> s3.Bucket:
    """A kit bucket: SSE-KMS under ``key`` (S3 Bucket Keys unless turned off), SSE-C blocked, TLS only, no public
    access, owner-enforced, versioned, server access logs to ``access_logs``, retained.

    A Bucket Key changes what KMS sees: S3 asks KMS for a bucket-level key with the encryption context
    ``aws:s3:arn`` = the *bucket* ARN (not the object ARN), and caches it. Key policy conditions on the
    encryption context must match that.

    Args:
        scope: Parent construct.
        construct_id: Construct id.
        key: The KMS key that encrypts every object by default.
        access_logs: The bucket that receives this bucket's server access logs.
        access_logs_prefix: The key prefix of this bucket's access logs.
        no_replication_reason: Why this bucket needs no cross-Region replication (the NIST rule's acknowledgement).
        lifecycle_rules: Expiry rules, if the contents are temporary.
        bucket_key: Use an S3 Bucket Key (fewer KMS calls; changes the encryption context, see above).
        bucket_name: A fixed name, or None for a generated one.

    Returns:
        The bucket.
    """
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=bucket_key,
        bucket_name=bucket_name,
        # SSE-C would store objects under a key the client holds and KMS never sees: no key policy, no audit.
        # BlockedEncryptionTypes on the encryption rule (AWS::S3::Bucket ServerSideEncryptionRule; the L2
        # blocked_encryption_types prop since aws-cdk-lib 2.245) makes S3 refuse SSE-C uploads.
        blocked_encryption_types=[s3.BlockedEncryptionType.SSE_C],
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=True,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_logs_prefix,
        lifecycle_rules=lifecycle_rules,
        removal_policy=RemovalPolicy.RETAIN,
    )
    acknowledge(bucket, "NIST.800.53.R5-S3BucketReplicationEnabled", no_replication_reason)
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
    acknowledge(
        bucket,
        "NIST.800.53.R5-S3DefaultEncryptionKMS",
        "S3 server access log target: SSE-S3 so the S3 logging service needs no use of a customer managed key.",
    )
    acknowledge(
        bucket,
        "NIST.800.53.R5-S3BucketReplicationEnabled",
        "Workshop access logs: versioned and retained in one Region; cross-Region replication is out of scope.",
    )
    return bucket


def deny_unexpected_encryption(bucket: s3.Bucket, key: kms.IKey) -> None:
    """Deny uploads that ask for any encryption other than SSE-KMS with ``key`` named by its full ARN.

    The bucket's default encryption already encrypts every upload that sends no encryption headers with
    ``key`` (SSE-KMS), so AWS recommends relying on default encryption rather than denying header-less uploads
    (which breaks clients that do not send the header). What default encryption cannot stop is a client that
    *asks* for something else. Three statements deny exactly those requests:

    * ``DenyNonKmsEncryptionHeader``: an encryption header other than ``aws:kms`` (SSE-S3 ``AES256``,
      DSSE-KMS ``aws:kms:dsse``);
    * ``DenyKmsWithoutKeyId``: ``aws:kms`` with no key id header. S3 then does not fall back to the bucket's
      default key but to the AWS managed key ``aws/s3`` (PutObject API reference, the
      ``x-amz-server-side-encryption-aws-kms-key-id`` header), whose policy the kit does not control;
    * ``DenyOtherKmsKey``: a key id header that is not this key's ARN. S3 also accepts a key id or an alias
      there, but the condition compares what the client sent, before S3 resolves it, so those forms are denied
      too: **full key ARN only** (the README and the guide say so).

    SSE-C is blocked on the bucket itself (``BlockedEncryptionTypes``, see :func:`kms_bucket`).

    Args:
        bucket: The bucket whose policy gets the statements.
        key: The only KMS key uploads may name.
    """
    objects = bucket.arn_for_objects("*")
    statements = (
        ("DenyNonKmsEncryptionHeader", {"StringNotEquals": {_SSE_HEADER: "aws:kms"}, "Null": {_SSE_HEADER: "false"}}),
        ("DenyKmsWithoutKeyId", {"StringEquals": {_SSE_HEADER: "aws:kms"}, "Null": {_SSE_KEY_HEADER: "true"}}),
        ("DenyOtherKmsKey", {"StringNotEquals": {_SSE_KEY_HEADER: key.key_arn}, "Null": {_SSE_KEY_HEADER: "false"}}),
    )
    for sid, conditions in statements:
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[objects],
                conditions=conditions,
            )
        )
