"""The data bucket: SSE-KMS with the kit's data key, and the bucket that receives its access logs."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.buckets import access_log_bucket, deny_unexpected_encryption, kms_bucket
from stacks.config import KitConfig
from stacks.constructs.data_bucket_access import DataBucketAccess

__all__ = ["StorageStack"]


class StorageStack(Stack):
    """A data bucket encrypted by default with the data key, with server access logs.

    Attributes:
        data_bucket: SSE-KMS (data key, bucket key on), versioned, TLS only, no public access, owner-enforced.
        access_log_bucket: SSE-S3 bucket receiving the data bucket's server access logs.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: KitConfig,
        data_key: kms.IKey,
        user_role: iam.IRole | None = None,
        **kwargs: Any,
    ) -> None:
        """Create the buckets.

        Args:
            scope: Parent construct (the App).
            construct_id: Stack id.
            config: The kit settings.
            data_key: The key that encrypts the data bucket (``KeysStack.data_key``).
            user_role: The kit's key-user role, when the kit made it: it may store and read objects.
            **kwargs: Passed to ``Stack``.
        """
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.access_log_bucket = access_log_bucket(self, "AccessLogBucket")
        self.data_bucket = kms_bucket(
            self,
            "DataBucket",
            key=data_key,
            access_logs=self.access_log_bucket,
            access_logs_prefix="data-bucket/",
            no_replication_reason="Workshop data bucket: versioned and retained in one Region; "
            "cross-Region replication is out of scope.",
        )
        deny_unexpected_encryption(self.data_bucket, data_key)
        if user_role is not None:
            DataBucketAccess(self, "KeyUserAccess", bucket=self.data_bucket, roles=[user_role])
