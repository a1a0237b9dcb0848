"""TrailStack: a validated multi-Region trail encrypted with the audit key, in its own locked-down bucket."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Capture, Match

from tests.stacks.conftest import ACCOUNT, REGION, Synthesized, ref, resource

TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/kmslab-trail"


def trail_props(synth: Synthesized) -> dict[str, Any]:
    props: dict[str, Any] = resource(synth.templates["trail"], synth.kit.trail.trail)["Properties"]
    return props


def test_trail_is_multi_region_validated_logging_and_named(default_synth: Synthesized) -> None:
    props = trail_props(default_synth)
    assert props["IsMultiRegionTrail"] is True
    assert props["EnableLogFileValidation"] is True
    assert props["IsLogging"] is True
    assert props["IncludeGlobalServiceEvents"] is True
    assert props["TrailName"] == default_synth.kit.trail.trail_name == "kmslab-trail"


def test_trail_is_encrypted_with_the_audit_key(default_synth: Synthesized) -> None:
    kit = default_synth.kit
    assert trail_props(default_synth)["KMSKeyId"] == kit.trail.resolve(kit.keys.audit_key.key_arn)
    assert kit.keys.resolve(kit.keys.audit_key.key_arn) == ref(kit.keys.audit_key, "Arn")
    assert kit.trail.resolve(kit.keys.audit_key.key_arn) != kit.trail.resolve(kit.keys.data_key.key_arn)


def test_management_events_include_kms_events(default_synth: Synthesized) -> None:
    selectors = Capture()
    default_synth.templates["trail"].has_resource_properties("AWS::CloudTrail::Trail", {"EventSelectors": selectors})
    assert selectors.as_array() == [{"IncludeManagementEvents": True, "ReadWriteType": "All"}]
    for selector in selectors.as_array():
        assert "ExcludeManagementEventSources" not in selector
    default_synth.templates["trail"].has_resource_properties(
        "AWS::CloudTrail::Trail", {"AdvancedEventSelectors": Match.absent()}
    )


def test_trail_writes_to_its_own_bucket_not_the_data_bucket(default_synth: Synthesized) -> None:
    kit = default_synth.kit
    assert trail_props(default_synth)["S3BucketName"] == ref(kit.trail.trail_bucket)
    assert kit.trail.trail_bucket is not kit.storage.data_bucket
    # The trail stack references nothing of the storage stack.
    assert kit.storage not in kit.trail.dependencies
    bucket = resource(default_synth.templates["trail"], kit.trail.trail_bucket.node.default_child)["Properties"]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": kit.trail.resolve(kit.keys.audit_key.key_arn),
    }
    assert bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == ref(kit.trail.access_log_bucket)


def test_bucket_policy_allows_exactly_cloudtrails_acl_check_and_write(default_synth: Synthesized) -> None:
    kit = default_synth.kit
    bucket = kit.trail.trail_bucket
    policy = resource(default_synth.templates["trail"], bucket.policy.node.default_child)["Properties"]
    statements = policy["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert {s["Sid"] for s in allows} == {"AllowCloudTrailAclCheck", "AllowCloudTrailWrite"}
    acl = next(s for s in allows if s["Sid"] == "AllowCloudTrailAclCheck")
    assert acl["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert (acl["Action"], acl["Resource"]) == ("s3:GetBucketAcl", ref(bucket, "Arn"))
    assert acl["Condition"] == {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}
    write = next(s for s in allows if s["Sid"] == "AllowCloudTrailWrite")
    assert write["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert write["Action"] == "s3:PutObject"
    assert write["Resource"] == {"Fn::Join": ["", [ref(bucket, "Arn"), f"/AWSLogs/{ACCOUNT}/*"]]}
    assert write["Condition"] == {
        "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": TRAIL_ARN}
    }
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert [d["Condition"] for d in denies] == [{"Bool": {"aws:SecureTransport": "false"}}]


def test_trail_waits_for_its_bucket_policy_and_log_role(default_synth: Synthesized) -> None:
    kit = default_synth.kit
    template = default_synth.templates["trail"]
    trail = resource(template, kit.trail.trail)
    assert kit.trail.log_role is not None
    policy_id = kit.trail.get_logical_id(kit.trail.trail_bucket.policy.node.default_child)
    assert trail["DependsOn"] == [policy_id]
    # The role is ordered by reference; the role in turn references its managed policy.
    assert trail["Properties"]["CloudWatchLogsRoleArn"] == ref(kit.trail.log_role, "Arn")
    role = resource(template, kit.trail.log_role.node.default_child)["Properties"]
    assert all("Ref" in arn for arn in role["ManagedPolicyArns"])


def test_log_group_is_encrypted_with_the_audit_key_and_retained_a_year(default_synth: Synthesized) -> None:
    kit = default_synth.kit
    assert kit.trail.log_group is not None
    group = resource(default_synth.templates["trail"], kit.trail.log_group.node.default_child)
    assert group["Properties"] == {
        "KmsKeyId": kit.trail.resolve(kit.keys.audit_key.key_arn),
        "LogGroupName": "/kmslab/cloudtrail",
        "RetentionInDays": 365,
    }
    assert group["DeletionPolicy"] == "Retain"
    props = trail_props(default_synth)
    assert props["CloudWatchLogsLogGroupArn"] == ref(kit.trail.log_group, "Arn")
    assert props["CloudWatchLogsRoleArn"] == ref(kit.trail.log_role, "Arn")


def test_log_role_has_cloudtrails_documented_trust_and_may_only_write_its_streams(default_synth: Synthesized) -> None:
    kit = default_synth.kit
    template = default_synth.templates["trail"]
    assert kit.trail.log_role is not None
    role = resource(template, kit.trail.log_role.node.default_child)["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    # CloudTrail's documented role trust policy has no condition; an aws:SourceArn condition stops delivery.
    assert "Condition" not in trust
    (managed,) = role["ManagedPolicyArns"]
    assert "Policies" not in role
    template.resource_count_is("AWS::IAM::Policy", 0)
    policies = template.find_resources("AWS::IAM::ManagedPolicy")
    assert managed["Ref"] in policies
    (statement,) = policies[managed["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/kmslab/cloudtrail:log-stream:{ACCOUNT}_CloudTrail_{REGION}*"
    )


def test_log_group_is_optional(no_logs_synth: Synthesized) -> None:
    trail = no_logs_synth.kit.trail
    assert trail.log_group is None and trail.log_role is None
    template = no_logs_synth.templates["trail"]
    template.resource_count_is("AWS::Logs::LogGroup", 0)
    template.resource_count_is("AWS::IAM::Role", 0)
    template.has_resource_properties(
        "AWS::CloudTrail::Trail",
        {
            "CloudWatchLogsLogGroupArn": Match.absent(),
            "CloudWatchLogsRoleArn": Match.absent(),
            "KMSKeyId": Match.any_value(),
        },
    )


def test_removal_destroy_applies_to_the_log_group_but_not_to_buckets(full_synth: Synthesized) -> None:
    template = full_synth.templates["trail"]
    template.all_resources("AWS::Logs::LogGroup", {"DeletionPolicy": "Delete"})
    template.all_resources("AWS::S3::Bucket", {"DeletionPolicy": "Retain"})
