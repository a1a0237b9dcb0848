"""Local CloudTrail cores: log file integrity validation and the CreateTrail/UpdateTrail policy checks.

Public API:

* :class:`DigestKeyStore`: the per-Region RSA signing keys, ListPublicKeys;
* :func:`build_digest`, :class:`LogFileEntry`, :class:`DigestFile`, :func:`digest_key`,
  :func:`string_to_sign`, :func:`log_file_key`: log and digest files as CloudTrail names, writes and
  signs them;
* :class:`DigestChain`: the hourly chain state of one trail and Region;
* :func:`validate_logs`, :class:`ObjectReader`, :class:`ValidationReport`: what
  ``aws cloudtrail validate-logs`` checks;
* :func:`check_bucket_policy`, :func:`check_key_policy`, :func:`check_logs_role`, :class:`TrailTarget`:
  CreateTrail's checks;
* :class:`CloudTrailError`: the root of every error, AWS-shaped (``code``, ``status``, ``to_response``).
"""

from __future__ import annotations

from kmslab.cloud.cloudtrail.checks import TrailTarget, check_bucket_policy, check_key_policy
from kmslab.cloud.cloudtrail.digest import (
    DigestFile,
    LogFileEntry,
    build_digest,
    digest_key,
    log_file_key,
    string_to_sign,
)
from kmslab.cloud.cloudtrail.errors import (
    CloudTrailError,
    InsufficientEncryptionPolicyException,
    InsufficientS3BucketPolicyException,
    InvalidCloudWatchLogsLogGroupArnException,
    InvalidCloudWatchLogsRoleArnException,
    InvalidDigestError,
    InvalidTimeRangeException,
)
from kmslab.cloud.cloudtrail.keys import SIGNATURE_ALGORITHM, DigestKeyStore, PublicKey
from kmslab.cloud.cloudtrail.logs_role import check_logs_role
from kmslab.cloud.cloudtrail.models import DigestChain
from kmslab.cloud.cloudtrail.validate import FileResult, ObjectReader, ValidationReport, validate_logs

__all__ = [
    "SIGNATURE_ALGORITHM",
    "CloudTrailError",
    "DigestChain",
    "DigestFile",
    "DigestKeyStore",
    "FileResult",
    "InsufficientEncryptionPolicyException",
    "InsufficientS3BucketPolicyException",
    "InvalidCloudWatchLogsLogGroupArnException",
    "InvalidCloudWatchLogsRoleArnException",
    "InvalidDigestError",
    "InvalidTimeRangeException",
    "LogFileEntry",
    "ObjectReader",
    "PublicKey",
    "TrailTarget",
    "ValidationReport",
    "build_digest",
    "check_bucket_policy",
    "check_key_policy",
    "check_logs_role",
    "digest_key",
    "log_file_key",
    "string_to_sign",
    "validate_logs",
]
