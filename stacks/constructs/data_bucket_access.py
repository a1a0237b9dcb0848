"""What a key user needs to store and read objects in the data bucket: one managed policy, least privilege."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.nag import acknowledge, finding_resource

__all__ = ["DataBucketAccess"]


class DataBucketAccess(Construct):
    """List the data bucket and put, get and delete its objects.

    The KMS side (GenerateDataKey for uploads, Decrypt for downloads, through S3) comes from the data key's
    policy, which already lets key users use the key; S3 calls KMS as the requester, so the user needs both.

    Attributes:
        policy: The managed policy.
    """

    def __init__(self, scope: Construct, construct_id: str, *, bucket: s3.IBucket, roles: Sequence[iam.IRole]) -> None:
        """Create the policy and attach it.

        Args:
            scope: Parent construct.
            construct_id: Construct id.
            bucket: The data bucket.
            roles: Key-user roles to attach the policy to.
        """
        super().__init__(scope, construct_id)
        objects = bucket.arn_for_objects("*")
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Store and read objects in the kmslab data bucket (SSE-KMS under the data key)",
            roles=list(roles),
            statements=[
                iam.PolicyStatement(sid="ListTheBucket", actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
                iam.PolicyStatement(
                    sid="ReadWriteObjects",
                    actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    resources=[objects],
                ),
            ],
        )
        acknowledge(
            self.policy,
            f"AwsSolutions-IAM5[Resource::{finding_resource(Stack.of(self), objects)}]",
            "Key users store objects of any name in the workshop's data bucket; the bucket is theirs.",
        )
