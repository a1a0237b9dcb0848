"""StorageStack: the data bucket is SSE-KMS with the data key, locked down, logged; the log bucket is SSE-S3."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Match

from tests.stacks.conftest import Synthesized, ref, resource

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


def data_key_arn_in_storage(synth: Synthesized) -> Any:
    """The data key's ARN as the storage stack sees it (an import of the keys stack's export)."""
    return synth.kit.storage.resolve(synth.kit.keys.data_key.key_arn)


def bucket_policy(synth: Synthesized, bucket: Any) -> list[dict[str, Any]]:
    policy = resource(synth.templates["storage"], bucket.policy.node.default_child)
    assert policy["Properties"]["Bucket"] == ref(bucket)
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_data_bucket_uses_the_data_key_with_bucket_key(default_synth: Synthesized) -> None:
    storage = default_synth.kit.storage
    props = resource(default_synth.templates["storage"], storage.data_bucket.node.default_child)["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": data_key_arn_in_storage(default_synth),
    }
    # The ARN really is the keys stack's data key (an export of its Fn::GetAtt Arn).
    keys = default_synth.kit.keys
    exported = keys.resolve(keys.data_key.key_arn)
    assert exported == ref(keys.data_key, "Arn")


def test_data_bucket_is_private_versioned_and_owner_enforced(default_synth: Synthesized) -> None:
    storage = default_synth.kit.storage
    props = resource(default_synth.templates["storage"], storage.data_bucket.node.default_child)["Properties"]
    assert props["PublicAccessBlockConfiguration"] == BLOCK_ALL
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


def test_data_bucket_logs_to_the_separate_log_bucket(default_synth: Synthesized) -> None:
    storage = default_synth.kit.storage
    props = resource(default_synth.templates["storage"], storage.data_bucket.node.default_child)["Properties"]
    assert props["LoggingConfiguration"] == {
        "DestinationBucketName": ref(storage.access_log_bucket),
        "LogFilePrefix": "data-bucket/",
    }
    assert storage.access_log_bucket is not storage.data_bucket


def test_log_bucket_is_sse_s3_private_versioned_tls_only(default_synth: Synthesized) -> None:
    storage = default_synth.kit.storage
    props = resource(default_synth.templates["storage"], storage.access_log_bucket.node.default_child)["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert props["PublicAccessBlockConfiguration"] == BLOCK_ALL
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    statements = bucket_policy(default_synth, storage.access_log_bucket)
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    delivery = [s for s in statements if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}]
    assert len(delivery) == 1 and delivery[0]["Action"] == "s3:PutObject"
    assert delivery[0]["Condition"]["ArnLike"] == {"aws:SourceArn": ref(storage.data_bucket, "Arn")}


def test_data_bucket_policy_is_tls_only(default_synth: Synthesized) -> None:
    storage = default_synth.kit.storage
    statements = bucket_policy(default_synth, storage.data_bucket)
    tls = [s for s in statements if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert len(tls) == 1
    assert tls[0]["Effect"] == "Deny" and tls[0]["Action"] == "s3:*" and tls[0]["Principal"] == {"AWS": "*"}


def test_uploads_asking_for_other_encryption_are_denied(default_synth: Synthesized) -> None:
    storage = default_synth.kit.storage
    by_sid = {s.get("Sid"): s for s in bucket_policy(default_synth, storage.data_bucket)}
    objects = {"Fn::Join": ["", [ref(storage.data_bucket, "Arn"), "/*"]]}
    wrong_type = by_sid["DenyNonKmsEncryptionHeader"]
    assert (wrong_type["Effect"], wrong_type["Action"], wrong_type["Resource"]) == ("Deny", "s3:PutObject", objects)
    assert wrong_type["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Null": {"s3:x-amz-server-side-encryption": "false"},
    }
    wrong_key = by_sid["DenyOtherKmsKey"]
    assert (wrong_key["Effect"], wrong_key["Action"], wrong_key["Resource"]) == ("Deny", "s3:PutObject", objects)
    assert wrong_key["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": data_key_arn_in_storage(default_synth)},
        "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
    }


def test_buckets_are_retained(default_synth: Synthesized, full_synth: Synthesized) -> None:
    for synth in (default_synth, full_synth):
        synth.templates["storage"].all_resources("AWS::S3::Bucket", {"DeletionPolicy": "Retain"})
        synth.templates["storage"].resource_count_is("AWS::S3::Bucket", 2)


def test_storage_depends_only_on_keys(default_synth: Synthesized) -> None:
    kit = default_synth.kit
    assert kit.storage.dependencies == [kit.keys]
    default_synth.templates["storage"].has_resource_properties(
        "AWS::S3::Bucket", {"BucketEncryption": Match.object_like({}), "LoggingConfiguration": Match.absent()}
    )
    assert isinstance(kit.storage, cdk.Stack)


def test_the_kit_key_user_role_may_store_and_read_data_bucket_objects(default_synth: Synthesized) -> None:
    storage, keys = default_synth.kit.storage, default_synth.kit.keys
    assert keys.user_role is not None
    bucket_arn = ref(storage.data_bucket, "Arn")
    default_synth.templates["storage"].has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "Roles": [storage.resolve(keys.user_role.role_name)],
            "PolicyDocument": Match.object_like(
                {
                    "Statement": [
                        {"Sid": "ListTheBucket", "Action": "s3:ListBucket", "Effect": "Allow", "Resource": bucket_arn},
                        {
                            "Sid": "ReadWriteObjects",
                            "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                            "Effect": "Allow",
                            "Resource": {"Fn::Join": ["", [bucket_arn, "/*"]]},
                        },
                    ]
                }
            ),
        },
    )


def test_configured_key_users_get_no_policy_from_the_kit(full_synth: Synthesized) -> None:
    # principals the learner names are theirs to grant; the kit attaches policies only to roles it made
    full_synth.templates["storage"].resource_count_is("AWS::IAM::ManagedPolicy", 0)
