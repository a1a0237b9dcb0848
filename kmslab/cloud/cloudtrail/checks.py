"""The checks CreateTrail and UpdateTrail run on the trail's bucket policy and KMS key policy.

CloudTrail refuses a trail it could not deliver to. We decide that with the project's policy engine
(:mod:`kmslab.kms.policy`), evaluating each policy as the service principal
``cloudtrail.amazonaws.com`` with the request context CloudTrail sends:

* **bucket** (CloudTrail User Guide, "Amazon S3 bucket policy for CloudTrail"): ``s3:GetBucketAcl``
  on the bucket, and ``s3:PutObject`` on ``[prefix/]AWSLogs/<account>/...`` with
  ``s3:x-amz-acl = bucket-owner-full-control``; both with ``aws:SourceArn`` (the trail ARN) and
  ``aws:SourceAccount``, over TLS. Otherwise ``InsufficientS3BucketPolicyException``;
* **key** (CloudTrail User Guide, "Configure AWS KMS key policies for CloudTrail"):
  ``kms:GenerateDataKey`` with the encryption context ``aws:cloudtrail:arn`` = the trail ARN (and
  ``aws:s3:arn``), ``aws:SourceArn`` and ``aws:SourceAccount``. "If you are using an existing S3
  bucket with an S3 Bucket Key, kms:Decrypt permissions are required to create or update a trail
  with SSE-KMS encryption enabled": with a Bucket Key, S3 decrypts the bucket-level key on the
  writer's behalf, so CloudTrail must also be allowed ``kms:Decrypt`` (with ``kms:ViaService``
  ``s3.<region>.amazonaws.com`` and ``aws:s3:arn`` = the bucket ARN). Otherwise
  ``InsufficientEncryptionPolicyException``.

An explicit Deny that applies refuses, as IAM's evaluation logic has it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kmslab.cloud.cloudtrail.errors import InsufficientEncryptionPolicyException, InsufficientS3BucketPolicyException
from kmslab.kms.errors import KmsError
from kmslab.kms.policy import evaluate_policy, parse_policy, request_context
from kmslab.kms.seams import AuthorizationRequest, Caller

SERVICE = "cloudtrail.amazonaws.com"


@dataclass(frozen=True)
class TrailTarget:
    """What a trail delivers to.

    Args:
        trail_arn: ``arn:aws:cloudtrail:<home region>:<account>:trail/<name>``.
        bucket: the bucket name.
        prefix: the S3 key prefix, or None.
    """

    trail_arn: str
    bucket: str
    prefix: str | None = None

    @property
    def account(self) -> str:
        """The trail's account."""
        return self.trail_arn.split(":")[4]

    @property
    def region(self) -> str:
        """The trail's home Region."""
        return self.trail_arn.split(":")[3]

    def object_arn(self) -> str:
        """An object ARN CloudTrail writes (a log file of the home Region)."""
        head = f"{self.prefix}/" if self.prefix else ""
        return f"arn:aws:s3:::{self.bucket}/{head}AWSLogs/{self.account}/CloudTrail/{self.region}/log.json.gz"


def _caller(account: str) -> Caller:
    return Caller(arn=SERVICE, account=account, identity_type="AWSService", principal_id=SERVICE, secure_transport=True)


def _decide(
    policy: Mapping[str, Any] | str, action: str, resource: str, context: Mapping[str, Any], account: str
) -> str:
    """Return why the policy does not allow the request, or an empty string when it does."""
    try:
        parsed = parse_policy(policy, kind="key")
    except KmsError as exc:
        return f"the policy is malformed: {exc}"
    caller = _caller(account)
    request = AuthorizationRequest(caller=caller, action=action, region="", context=dict(context))
    result = evaluate_policy(
        parsed, source="policy", caller=caller, action=action, resource=resource, context=request_context(request)
    )
    if result.denies:
        return f"statement {result.denies[0].sid} denies {action}"
    if not result.allows:
        return f"no statement allows {SERVICE} {action} on {resource}"
    return ""


def check_bucket_policy(policy: Mapping[str, Any] | str | None, target: TrailTarget) -> None:
    """Refuse a bucket policy that does not let CloudTrail deliver.

    Args:
        policy: the bucket policy (JSON text or dict), or None when the bucket has none.
        target: the trail and where it delivers.

    Raises:
        InsufficientS3BucketPolicyException: CloudTrail could not check the ACL or write the logs.
    """
    message = f"Incorrect S3 bucket policy is detected for bucket: {target.bucket}"
    if policy is None:
        raise InsufficientS3BucketPolicyException(message)
    source = {"aws:SourceArn": target.trail_arn, "aws:SourceAccount": target.account}
    checks = (
        ("s3:GetBucketAcl", f"arn:aws:s3:::{target.bucket}", source),
        ("s3:PutObject", target.object_arn(), {**source, "s3:x-amz-acl": "bucket-owner-full-control"}),
    )
    for action, resource, context in checks:
        why = _decide(policy, action, resource, context, target.account)
        if why:
            error = InsufficientS3BucketPolicyException(message)
            error.reason = why
            raise error


def check_key_policy(
    policy: Mapping[str, Any] | str, target: TrailTarget, *, key_arn: str, bucket_key: bool = False
) -> None:
    """Refuse a KMS key policy that does not let CloudTrail encrypt the trail's files.

    Args:
        policy: the key policy (JSON text or dict).
        target: the trail and where it delivers.
        key_arn: the key's ARN.
        bucket_key: whether the bucket's default encryption uses an S3 Bucket Key.

    Raises:
        InsufficientEncryptionPolicyException: CloudTrail could not generate data keys (or, with a
            Bucket Key, decrypt).
    """
    base = {
        "aws:SourceArn": target.trail_arn,
        "aws:SourceAccount": target.account,
        "kms:EncryptionContext:aws:cloudtrail:arn": target.trail_arn,
    }
    checks: list[tuple[str, dict[str, Any]]] = [
        (
            "kms:GenerateDataKey",
            {
                **base,
                "kms:EncryptionContext:aws:s3:arn": target.object_arn(),
                "kms:EncryptionContextKeys": ["aws:cloudtrail:arn", "aws:s3:arn"],
            },
        )
    ]
    if bucket_key:
        checks.append(
            (
                "kms:Decrypt",
                {
                    **base,
                    "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{target.bucket}",
                    "kms:EncryptionContextKeys": ["aws:cloudtrail:arn", "aws:s3:arn"],
                    "kms:ViaService": f"s3.{target.region}.amazonaws.com",
                },
            )
        )
    for action, context in checks:
        why = _decide(policy, action, key_arn, context, target.account)
        if why:
            error = InsufficientEncryptionPolicyException(
                f"Insufficient permissions to access S3 bucket {target.bucket} or KMS key {key_arn}."
            )
            error.reason = why
            raise error
