"""What CreateTrail and UpdateTrail check before they accept a trail: the bucket, the key, the logs role.

CloudTrail refuses a trail it could not deliver to (CloudTrail API Reference, CreateTrail errors):
the bucket must exist (``S3BucketDoesNotExistException``) and its policy let CloudTrail write
(``InsufficientS3BucketPolicyException``); the KMS key must exist (``KmsKeyNotFoundException``) and
its policy let CloudTrail encrypt, and decrypt too when the bucket uses a Bucket Key
(``InsufficientEncryptionPolicyException``); the CloudWatch Logs role must be assumable by CloudTrail
and able to write (``InvalidCloudWatchLogsRoleArnException``). The decisions are the core's
(:mod:`~kmslab.cloud.cloudtrail.checks`, :mod:`~kmslab.cloud.cloudtrail.logs_role`), made on the
local S3's bucket and the local KMS's key as they are now, so the kit's templates get AWS's verdict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kmslab.cloud.cloudtrail.checks import TrailTarget, check_bucket_policy, check_key_policy
from kmslab.cloud.cloudtrail.errors import CloudTrailError
from kmslab.cloud.cloudtrail.logs_role import DENIED, check_logs_role
from kmslab.cloud.errors import CloudError
from kmslab.iam import CloudIdentities
from kmslab.kms import LocalKms

_KEY_ID = re.compile(r"^(?:[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|mrk-[0-9a-f]{32})$")
_KEY_ARN = re.compile(r"^arn:aws[\w-]*:kms:([\w-]+):(\d{12}):key/(.+)$")
_ALIAS_ARN = re.compile(r"^arn:aws[\w-]*:kms:([\w-]+):(\d{12}):(alias/.+)$")


@dataclass(frozen=True)
class KeyFacts:
    """The KMS key a trail names, as CloudTrail reads it.

    Args:
        arn: the key ARN (CloudTrail stores the ARN whatever form the request used).
        policy: its key policy.
    """

    arn: str
    policy: str


def _key_not_found(ref: str) -> CloudError:
    return CloudError("KmsKeyNotFoundException", f"KMS key {ref} does not exist or is not in region.")


def find_key(kms: LocalKms, ref: str, region: str) -> KeyFacts:
    """Resolve a trail's ``KmsKeyId`` (key ID, key ARN, alias name or alias ARN) in the trail's Region.

    CloudTrail reads the key as the service, not as the caller, so this reads the engine's state
    rather than calling KMS (which would be judged, and recorded, as a principal's request).

    Args:
        kms: the local KMS.
        ref: the ``KmsKeyId`` parameter.
        region: the trail's home Region (the key must be in it).

    Returns:
        The key's ARN and policy.

    Raises:
        CloudError: ``KmsKeyNotFoundException``.
    """
    registry = kms.registry  # the service reads the key's state; no caller is judged or recorded
    key_id: str | None = None
    if _KEY_ID.match(ref):
        key_id = ref
    elif match := _KEY_ARN.match(ref):
        key_id = match.group(3) if match.group(1) == region and match.group(2) == kms.account else None
    else:
        alias_name = ref if ref.startswith("alias/") else None
        if match := _ALIAS_ARN.match(ref):
            alias_name = match.group(3) if match.group(1) == region and match.group(2) == kms.account else None
        alias = registry.alias(region, alias_name) if alias_name else None
        key_id = alias.target_key_id if alias is not None else None
    key = registry.key(region, key_id) if key_id else None
    if key is None:
        raise _key_not_found(ref)
    return KeyFacts(str(key.arn), str(key.policy))


def _as_cloud_error(exc: CloudTrailError) -> CloudError:
    return CloudError(exc.code, exc.message, exc.status)


def check_trail(
    doc: Mapping[str, Any], *, bucket: Mapping[str, Any] | None, kms: LocalKms, identities: CloudIdentities
) -> str | None:
    """Run CreateTrail's checks on a trail's settings.

    Args:
        doc: the trail's settings (``TrailARN``, ``S3BucketName``, ``S3KeyPrefix``, ``KmsKeyId``,
            ``CloudWatchLogsLogGroupArn``, ``CloudWatchLogsRoleArn``).
        bucket: the local S3's document of the bucket, or None when it does not exist.
        kms: the local KMS.
        identities: where the logs role is found.

    Returns:
        The key ARN to store as ``KmsKeyId`` (None: no SSE-KMS).

    Raises:
        CloudError: CloudTrail's exception for the first check that fails.
    """
    name = str(doc["S3BucketName"])
    if bucket is None:
        raise CloudError("S3BucketDoesNotExistException", f"S3 bucket {name} does not exist.")
    target = TrailTarget(str(doc["TrailARN"]), name, doc.get("S3KeyPrefix") or None)
    key_arn: str | None = None
    try:
        check_bucket_policy(bucket.get("policy"), target)
        if doc.get("KmsKeyId"):
            key = find_key(kms, str(doc["KmsKeyId"]), target.region)
            encryption = bucket.get("encryption") or {}
            bucket_key = bool(encryption.get("bucket_key")) and encryption.get("algorithm") == "aws:kms"
            check_key_policy(key.policy, target, key_arn=key.arn, bucket_key=bucket_key)
            key_arn = key.arn
        group, role_arn = doc.get("CloudWatchLogsLogGroupArn"), doc.get("CloudWatchLogsRoleArn")
        if bool(group) != bool(role_arn):
            raise CloudError(
                "InvalidParameterCombinationException",
                "CloudWatchLogsLogGroupArn and CloudWatchLogsRoleArn must be specified together.",
            )
        if group and role_arn:
            role = identities.role(str(role_arn))
            if role is None:
                raise CloudError("InvalidCloudWatchLogsRoleArnException", DENIED)
            check_logs_role(
                target=target,
                role_arn=str(role_arn),
                trust_policy=role.trust_policy,
                role_policies=[named.policy for named in role.policies],
                log_group_arn=str(group),
            )
    except CloudTrailError as exc:
        raise _as_cloud_error(exc) from None
    return key_arn
