"""The data bucket: SSE-KMS with the kit's data key, and the bucket that receives its access logs."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.buckets import access_log_bucket, deny_unexpected_encryption
from stacks.config import KitConfig
from stacks.nag import acknowledge

__all__ = ["StorageStack"]


class StorageStack(Stack):
    """A data bucket encrypted by default with the data key, with server access logs.

    Attributes:
        data_bucket: SSE-KMS (data key, bucket key on), versioned, TLS only, no public access, owner-enforced.
        access_log_bucket: SSE-S3 bucket receiving the data bucket's server access logs.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: KitConfig, data_key: kms.IKey, **kwargs: Any
    ) -> None:
        """Create the buckets.

        Args:
            scope: Parent construct (the App).
            construct_id: Stack id.
            config: The kit settings.
            data_key: The key that encrypts the data bucket (``KeysStack.data_key``).
            **kwargs: Passed to ``Stack``.
        """
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.access_log_bucket = access_log_bucket(self, "AccessLogBucket")
        self.data_bucket = s3.Bucket(
            self,
            "DataBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=data_key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="data-bucket/",
            removal_policy=RemovalPolicy.RETAIN,
        )
        deny_unexpected_encryption(self.data_bucket, data_key)
        resource = self.data_bucket.node.default_child
        assert isinstance(resource, s3.CfnBucket)
        acknowledge(
            resource,
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "Workshop data bucket: versioned and retained in one Region; cross-Region replication is out of scope.",
        )
