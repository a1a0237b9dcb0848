"""S3 buckets and bucket policies, created through the local S3 (default encryption, Bucket Keys,
Block Public Access, Object Ownership, versioning, logging and lifecycle are applied by its API).

``Ref`` is the bucket name; attributes follow the CloudFormation User Guide (``Arn``, ``DomainName``,
``RegionalDomainName``, ``DualStackDomainName``, ``WebsiteURL``). A bucket that still holds objects
cannot be deleted (``BucketNotEmpty``), as on AWS.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from kmslab.cloud.deploy.resources import ProvisionContext, Provisioned
from kmslab.cloud.deploy.types._base import Handler, Reapply, physical_name, policy_text, tag_list


class Bucket(Handler):
    """``AWS::S3::Bucket``."""

    type_name = "AWS::S3::Bucket"
    note = "local S3: SSE-KMS through the local KMS, Bucket Keys, public access block, ownership, versioning"
    immutable = frozenset({"BucketName", "ObjectLockEnabled"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        s3 = ctx.client("s3")
        name = str(properties.get("BucketName") or physical_name(ctx, max_length=63, lower=True))
        args: dict[str, Any] = {"Bucket": name}
        if ctx.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
        if properties.get("ObjectLockEnabled"):
            args["ObjectLockEnabledForBucket"] = True
        if "OwnershipControls" in properties:
            rules = properties["OwnershipControls"].get("Rules", [])
            if rules:
                args["ObjectOwnership"] = rules[0]["ObjectOwnership"]
        s3.create_bucket(**args)
        try:
            self._configure(s3, name, {}, properties)
        except Exception:
            s3.delete_bucket(Bucket=name)
            raise
        return Provisioned(name, _attributes(name, ctx.region))

    def apply(
        self, physical_id: str, old: Mapping[str, Any], new: Mapping[str, Any], ctx: ProvisionContext
    ) -> Provisioned:
        self._configure(ctx.client("s3"), physical_id, old, new)
        return Provisioned(physical_id, _attributes(physical_id, ctx.region))

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        s3 = ctx.client("s3")
        with contextlib.suppress(s3.exceptions.NoSuchBucket):
            s3.delete_bucket(Bucket=physical_id)

    @staticmethod
    def _configure(s3: Any, name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        def changed(key: str) -> bool:
            return old.get(key) != new.get(key)

        if changed("PublicAccessBlockConfiguration"):
            if "PublicAccessBlockConfiguration" in new:
                s3.put_public_access_block(
                    Bucket=name, PublicAccessBlockConfiguration=new["PublicAccessBlockConfiguration"]
                )
            else:
                s3.delete_public_access_block(Bucket=name)
        if changed("OwnershipControls") and old:
            if "OwnershipControls" in new:
                s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=new["OwnershipControls"])
            else:
                s3.delete_bucket_ownership_controls(Bucket=name)
        if changed("BucketEncryption"):
            if "BucketEncryption" in new:
                rules = [_encryption_rule(r) for r in new["BucketEncryption"]["ServerSideEncryptionConfiguration"]]
                s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
            else:
                s3.delete_bucket_encryption(Bucket=name)
        if changed("VersioningConfiguration") and "VersioningConfiguration" in new:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=new["VersioningConfiguration"])
        if changed("LoggingConfiguration"):
            logging = new.get("LoggingConfiguration")
            status: dict[str, Any] = {}
            if logging:
                status = {
                    "LoggingEnabled": {
                        "TargetBucket": logging["DestinationBucketName"],
                        "TargetPrefix": logging.get("LogFilePrefix", ""),
                    }
                }
            s3.put_bucket_logging(Bucket=name, BucketLoggingStatus=status)
        if changed("LifecycleConfiguration"):
            if "LifecycleConfiguration" in new:
                s3.put_bucket_lifecycle_configuration(
                    Bucket=name,
                    LifecycleConfiguration={
                        "Rules": [_lifecycle_rule(r) for r in new["LifecycleConfiguration"]["Rules"]]
                    },
                )
            else:
                s3.delete_bucket_lifecycle(Bucket=name)
        if changed("Tags"):
            if new.get("Tags"):
                s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(new)})
            else:
                s3.delete_bucket_tagging(Bucket=name)


class BucketPolicy(Reapply):
    """``AWS::S3::BucketPolicy``: the local S3 checks the policy's principals and grammar."""

    type_name = "AWS::S3::BucketPolicy"
    note = "local S3 PutBucketPolicy; evaluated by the same policy engine as key policies"
    immutable = frozenset({"Bucket"})

    def create(self, properties: Mapping[str, Any], ctx: ProvisionContext) -> Provisioned:
        bucket = str(properties["Bucket"])
        ctx.client("s3").put_bucket_policy(Bucket=bucket, Policy=policy_text(properties["PolicyDocument"]))
        return Provisioned(bucket)

    def delete(self, physical_id: str, properties: Mapping[str, Any], ctx: ProvisionContext) -> None:
        s3 = ctx.client("s3")
        with contextlib.suppress(s3.exceptions.NoSuchBucket):
            s3.delete_bucket_policy(Bucket=physical_id)


def _attributes(name: str, region: str) -> dict[str, str]:
    return {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
    }


def _encryption_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation encryption rule in the shape PutBucketEncryption takes (``Apply...`` prefix)."""
    out = {k: v for k, v in rule.items() if k != "ServerSideEncryptionByDefault"}
    if "ServerSideEncryptionByDefault" in rule:
        out["ApplyServerSideEncryptionByDefault"] = rule["ServerSideEncryptionByDefault"]
    return out


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the shape PutBucketLifecycleConfiguration takes."""
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled"), "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        days = rule["NoncurrentVersionExpiration"].get("NoncurrentDays")
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(days)}
    elif "NoncurrentVersionExpirationInDays" in rule:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return out
