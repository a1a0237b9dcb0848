"""CreateTrail/UpdateTrail's bucket and key policy checks, on the kit's own policies and variants."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kmslab.cloud.cloudtrail import (
    InsufficientEncryptionPolicyException,
    InsufficientS3BucketPolicyException,
    InvalidCloudWatchLogsLogGroupArnException,
    InvalidCloudWatchLogsRoleArnException,
    TrailTarget,
    check_bucket_policy,
    check_key_policy,
    check_logs_role,
)
from tests.cloud.logs.kit import ACCOUNT, KEY_ARN, REGION, resource, resource_name

CONTEXT_KEY = "kms:EncryptionContext:aws:cloudtrail:arn"
TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/kmslab-trail"


@pytest.fixture(scope="module")
def bucket_policy() -> dict[str, Any]:
    return resource("KmslabTrail", "AWS::S3::BucketPolicy", "TrailBucket")["PolicyDocument"]


@pytest.fixture(scope="module")
def key_policy() -> dict[str, Any]:
    return resource("KmslabKeys", "AWS::KMS::Key", "AuditKey")["KeyPolicy"]


@pytest.fixture(scope="module")
def target() -> TrailTarget:
    trail = resource("KmslabTrail", "AWS::CloudTrail::Trail")
    assert trail["TrailName"] == "kmslab-trail"
    return TrailTarget(TRAIL_ARN, trail["S3BucketName"], trail.get("S3KeyPrefix"))


def _statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in policy["Statement"] if s.get("Sid") == sid)


def test_the_kits_bucket_policy_lets_cloudtrail_deliver(bucket_policy: dict[str, Any], target: TrailTarget) -> None:
    assert target.bucket == resource_name("TrailBucketA831CE63")
    check_bucket_policy(bucket_policy, target)


def _without(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    changed = copy.deepcopy(policy)
    changed["Statement"] = [s for s in changed["Statement"] if s.get("Sid") != sid]
    return changed


def _edited(policy: dict[str, Any], sid: str, **changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(policy)
    _statement(changed, sid).update(changes)
    return changed


@pytest.mark.parametrize(
    "variant",
    [
        "no policy",
        "no ACL check",
        "no write",
        "write under another account",
        "write for another trail",
        "write needs another ACL",
        "deny cloudtrail",
    ],
)
def test_bucket_policy_variants_that_cloudtrail_refuses(
    variant: str, bucket_policy: dict[str, Any], target: TrailTarget
) -> None:
    write = _statement(bucket_policy, "AllowCloudTrailWrite")
    policies: dict[str, Any] = {
        "no policy": None,
        "no ACL check": _without(bucket_policy, "AllowCloudTrailAclCheck"),
        "no write": _without(bucket_policy, "AllowCloudTrailWrite"),
        "write under another account": _edited(
            bucket_policy, "AllowCloudTrailWrite", Resource=write["Resource"].replace(ACCOUNT, "444455556666")
        ),
        "write for another trail": _edited(
            bucket_policy,
            "AllowCloudTrailWrite",
            Condition={"StringEquals": {"aws:SourceArn": TRAIL_ARN.replace("kmslab-trail", "other")}},
        ),
        "write needs another ACL": _edited(
            bucket_policy,
            "AllowCloudTrailWrite",
            Condition={"StringEquals": {"s3:x-amz-acl": "private"}},
        ),
        "deny cloudtrail": {
            **bucket_policy,
            "Statement": [
                *bucket_policy["Statement"],
                {"Effect": "Deny", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
                 "Resource": "*"},
            ],
        },
    }  # fmt: skip
    with pytest.raises(InsufficientS3BucketPolicyException) as caught:
        check_bucket_policy(policies[variant], target)
    assert caught.value.message == f"Incorrect S3 bucket policy is detected for bucket: {target.bucket}"
    assert caught.value.to_response()["__type"] == "InsufficientS3BucketPolicyException"


def test_a_prefix_must_be_covered(bucket_policy: dict[str, Any], target: TrailTarget) -> None:
    with pytest.raises(InsufficientS3BucketPolicyException):
        check_bucket_policy(bucket_policy, TrailTarget(target.trail_arn, target.bucket, "logs"))
    widened = _edited(
        bucket_policy, "AllowCloudTrailWrite", Resource=f"arn:aws:s3:::{target.bucket}/logs/AWSLogs/{ACCOUNT}/*"
    )
    check_bucket_policy(widened, TrailTarget(target.trail_arn, target.bucket, "logs"))


def test_the_kits_key_policy_lets_cloudtrail_encrypt(key_policy: dict[str, Any], target: TrailTarget) -> None:
    check_key_policy(key_policy, target, key_arn=KEY_ARN)


def test_with_a_bucket_key_cloudtrail_also_needs_decrypt(key_policy: dict[str, Any], target: TrailTarget) -> None:
    # The kit's audit key lets CloudTrail GenerateDataKey* but not Decrypt: fine without a Bucket Key only.
    with pytest.raises(InsufficientEncryptionPolicyException) as caught:
        check_key_policy(key_policy, target, key_arn=KEY_ARN, bucket_key=True)
    assert "kms:Decrypt" in caught.value.reason
    fixed = copy.deepcopy(key_policy)
    encrypt = _statement(fixed, "AllowCloudTrailEncryptLogs")
    encrypt["Action"] = ["kms:GenerateDataKey*", "kms:Decrypt"]
    check_key_policy(fixed, target, key_arn=KEY_ARN, bucket_key=True)


def test_the_kits_trail_as_synthesized_gets_aws_verdict(key_policy: dict[str, Any], target: TrailTarget) -> None:
    # The verdict depends on the trail bucket's Bucket Key setting, read from the template as CreateTrail would.
    bucket = resource("KmslabTrail", "AWS::S3::Bucket", "TrailBucket")
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    bucket_key = bool(rule.get("BucketKeyEnabled", False))
    allows_decrypt = any(
        "cloudtrail.amazonaws.com" in str(s.get("Principal")) and "kms:Decrypt" in str(s.get("Action"))
        for s in key_policy["Statement"]
    )
    if bucket_key and not allows_decrypt:
        with pytest.raises(InsufficientEncryptionPolicyException):
            check_key_policy(key_policy, target, key_arn=KEY_ARN, bucket_key=bucket_key)
    else:
        check_key_policy(key_policy, target, key_arn=KEY_ARN, bucket_key=bucket_key)


@pytest.mark.parametrize(
    "variant",
    ["no statement", "another account's trails", "another trail", "encrypt only", "deny"],
)
def test_key_policy_variants_that_cloudtrail_refuses(
    variant: str, key_policy: dict[str, Any], target: TrailTarget
) -> None:
    sid = "AllowCloudTrailEncryptLogs"
    encrypt = _statement(key_policy, sid)
    policies: dict[str, Any] = {
        "no statement": _without(key_policy, sid),
        "another account's trails": _edited(
            key_policy,
            sid,
            Condition={"StringLike": {CONTEXT_KEY: "arn:aws:cloudtrail:*:444455556666:trail/*"}},
        ),
        "another trail": _edited(
            key_policy,
            sid,
            Condition={**encrypt["Condition"], "StringEquals": {"aws:SourceArn": TRAIL_ARN + "-2"}},
        ),
        "encrypt only": _edited(key_policy, sid, Action="kms:Encrypt"),
        "deny": {
            **key_policy,
            "Statement": [
                *key_policy["Statement"],
                {"Effect": "Deny", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:*",
                 "Resource": "*"},
            ],
        },
    }  # fmt: skip
    with pytest.raises(InsufficientEncryptionPolicyException) as caught:
        check_key_policy(policies[variant], target, key_arn=KEY_ARN)
    assert caught.value.message == (
        f"Insufficient permissions to access S3 bucket {target.bucket} or KMS key {KEY_ARN}."
    )


def test_awss_documented_statement_is_enough() -> None:
    # CloudTrail User Guide, "Granting encrypt permissions": the required statement alone.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Allow CloudTrail to encrypt logs",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {"StringLike": {CONTEXT_KEY: f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"}},
            }
        ],
    }
    check_key_policy(policy, TrailTarget(TRAIL_ARN, "b"), key_arn=KEY_ARN)
    with pytest.raises(InsufficientEncryptionPolicyException):
        check_key_policy("{not json", TrailTarget(TRAIL_ARN, "b"), key_arn=KEY_ARN)


@pytest.fixture(scope="module")
def logs_role() -> dict[str, Any]:
    role = resource("KmslabTrail", "AWS::IAM::Role", "TrailLogRole")
    policy = resource("KmslabTrail", "AWS::IAM::ManagedPolicy", "TrailLogDelivery")["PolicyDocument"]
    group = resource("KmslabTrail", "AWS::Logs::LogGroup", "TrailLogGroup")["LogGroupName"]
    return {
        "role_arn": f"arn:aws:iam::{ACCOUNT}:role/kmslab-trail-logs",
        "trust_policy": role["AssumeRolePolicyDocument"],
        "role_policies": [policy],
        "log_group_arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*",
    }


def test_the_kits_logs_role_is_usable_by_cloudtrail(logs_role: dict[str, Any], target: TrailTarget) -> None:
    check_logs_role(target=target, **logs_role)


@pytest.mark.parametrize(
    "variant", ["trust another service", "trust another trail", "no write", "another group", "deny"]
)
def test_logs_role_variants_that_cloudtrail_refuses(
    variant: str, logs_role: dict[str, Any], target: TrailTarget
) -> None:
    trust = copy.deepcopy(logs_role["trust_policy"])
    policies = copy.deepcopy(logs_role["role_policies"])
    group = logs_role["log_group_arn"]
    if variant == "trust another service":
        trust["Statement"][0]["Principal"] = {"Service": "lambda.amazonaws.com"}
    elif variant == "trust another trail":
        trust["Statement"][0]["Condition"] = {"StringEquals": {"aws:SourceArn": TRAIL_ARN + "-2"}}
    elif variant == "no write":
        policies[0]["Statement"][0]["Action"] = ["logs:CreateLogStream"]
    elif variant == "another group":
        group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/other:*"
    else:
        policies.append(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "logs:*", "Resource": "*"}]}
        )
    with pytest.raises(InvalidCloudWatchLogsRoleArnException) as caught:
        check_logs_role(
            target=target,
            role_arn=logs_role["role_arn"],
            trust_policy=trust,
            role_policies=policies,
            log_group_arn=group,
        )
    assert caught.value.message == "Access denied. Verify in IAM that the role has adequate permissions."


def test_a_malformed_log_group_arn_is_refused(logs_role: dict[str, Any], target: TrailTarget) -> None:
    with pytest.raises(InvalidCloudWatchLogsLogGroupArnException):
        check_logs_role(target=target, **{**logs_role, "log_group_arn": "not-an-arn"})


def test_a_malformed_trust_policy_is_access_denied(logs_role: dict[str, Any], target: TrailTarget) -> None:
    with pytest.raises(InvalidCloudWatchLogsRoleArnException) as caught:
        check_logs_role(target=target, **{**logs_role, "trust_policy": "{not json"})
    assert "malformed" in caught.value.reason
