"""Bucket and key policies of a trail, as the CloudTrail User Guide gives them, with switches to break them."""

from __future__ import annotations

import json
from typing import Any

ACCOUNT_ROOT = "arn:aws:iam::{account}:root"


def bucket_policy(bucket: str, account: str, trail_arn: str, *, write: bool = True, prefix: str = "") -> str:
    """The bucket policy CloudTrail needs (``write=False`` leaves out the PutObject statement)."""
    head = f"{prefix}/" if prefix else ""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AWSCloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
        }
    ]
    if write:
        statements.append(
            {
                "Sid": "AWSCloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/{head}AWSLogs/{account}/*",
                "Condition": {
                    "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}
                },
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def key_policy(
    account: str, *, auditor: str, decrypt: bool = False, encrypt: bool = True, source_arn: str | None = None
) -> str:
    """The trail key's policy: the account manages it, CloudTrail encrypts, the auditor decrypts logs."""
    trails = f"arn:aws:cloudtrail:*:{account}:trail/*"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Admin",
            "Effect": "Allow",
            "Principal": {"AWS": ACCOUNT_ROOT.format(account=account)},
            "Action": ["kms:Create*", "kms:Describe*", "kms:Put*", "kms:Get*", "kms:List*", "kms:ScheduleKeyDeletion"],
            "Resource": "*",
        },
        {
            "Sid": "AuditorReadsLogs",
            "Effect": "Allow",
            "Principal": {"AWS": auditor},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trails}},
        },
    ]
    if encrypt:
        statements.append(
            {
                "Sid": "CloudTrailEncrypts",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trails},
                    **({"StringEquals": {"aws:SourceArn": source_arn}} if source_arn else {}),
                },
            }
        )
    if decrypt:
        statements.append(
            {
                "Sid": "CloudTrailDecryptsBucketKey",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:Decrypt",
                "Resource": "*",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
