"""The gateway's CloudTrail through boto3: trails with AWS's delivery checks, logging, selectors, tags, lookups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.exceptions
import pytest

from tests.cloud.cloudtrail._policies import bucket_policy, key_policy
from tests.cloud.conftest import Running


def _err(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        call()
    return exc.value.response["Error"]["Code"], exc.value.response["Error"].get("Message", "")


def _arn(cloud: Running, who: str) -> str:
    return next(i["arn"] for i in cloud.ids["identities"] if i["arn"].endswith(f"/{who}"))


@pytest.fixture
def names(cloud: Running, unique: Callable[[str], str]) -> tuple[str, str, str]:
    """(trail name, trail ARN, bucket) with the bucket created and no policy yet."""
    name = unique("trail")
    bucket = unique("trail-logs")
    cloud.client("s3").create_bucket(Bucket=bucket)
    return name, f"arn:aws:cloudtrail:us-east-1:{cloud.cloud.kms.account}:trail/{name}", bucket


def _key(cloud: Running, **kwargs: Any) -> str:
    policy = key_policy(cloud.cloud.kms.account, auditor=_arn(cloud, "auditor"), **kwargs)
    return str(cloud.client("kms").create_key(Policy=policy)["KeyMetadata"]["Arn"])


def test_create_trail_needs_an_existing_bucket_whose_policy_lets_cloudtrail_write(
    cloud: Running, names: tuple[str, str, str]
) -> None:
    name, arn, bucket = names
    ct, s3, account = cloud.client("cloudtrail"), cloud.client("s3"), cloud.cloud.kms.account
    assert _err(lambda: ct.create_trail(Name=name, S3BucketName=bucket + "-missing"))[0] == (
        "S3BucketDoesNotExistException"
    )
    code, message = _err(lambda: ct.create_trail(Name=name, S3BucketName=bucket))
    assert code == "InsufficientS3BucketPolicyException" and bucket in message
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, account, arn, write=False))
    assert _err(lambda: ct.create_trail(Name=name, S3BucketName=bucket))[0] == "InsufficientS3BucketPolicyException"
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, account, arn))
    created = ct.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=True, EnableLogFileValidation=True)
    assert created["TrailARN"] == arn and created["LogFileValidationEnabled"] and created["IsMultiRegionTrail"]
    assert _err(lambda: ct.create_trail(Name=name, S3BucketName=bucket))[0] == "TrailAlreadyExistsException"


def test_the_key_policy_must_let_cloudtrail_encrypt_and_decrypt_too_with_a_bucket_key(
    cloud: Running, names: tuple[str, str, str]
) -> None:
    name, arn, bucket = names
    ct, s3, account = cloud.client("cloudtrail"), cloud.client("s3"), cloud.cloud.kms.account
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, account, arn))
    no_encrypt = _key(cloud, encrypt=False)
    code, message = _err(lambda: ct.create_trail(Name=name, S3BucketName=bucket, KmsKeyId=no_encrypt))
    assert code == "InsufficientEncryptionPolicyException" and no_encrypt in message
    assert _err(lambda: ct.create_trail(Name=name, S3BucketName=bucket, KmsKeyId="alias/nope"))[0] == (
        "KmsKeyNotFoundException"
    )
    encrypt_only = _key(cloud)
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": encrypt_only},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    # AWS: with an S3 Bucket Key, kms:Decrypt is needed to create the trail (the kit's original gap)
    assert _err(lambda: ct.create_trail(Name=name, S3BucketName=bucket, KmsKeyId=encrypt_only))[0] == (
        "InsufficientEncryptionPolicyException"
    )
    both = _key(cloud, decrypt=True)
    key_id = both.rsplit("/", 1)[-1]
    cloud.client("kms").create_alias(AliasName=f"alias/{name}", TargetKeyId=key_id)
    created = ct.create_trail(Name=name, S3BucketName=bucket, KmsKeyId=f"alias/{name}")
    assert created["KmsKeyId"] == both  # stored as the key ARN, whatever form named it
    # UpdateTrail checks again: a key that cannot decrypt is refused while the bucket uses a Bucket Key
    assert _err(lambda: ct.update_trail(Name=name, KmsKeyId=encrypt_only))[0] == "InsufficientEncryptionPolicyException"
    assert ct.get_trail(Name=name)["Trail"]["KmsKeyId"] == both


def test_logging_status_describe_list_and_delete(cloud: Running, names: tuple[str, str, str]) -> None:
    name, arn, bucket = names
    ct, account = cloud.client("cloudtrail"), cloud.cloud.kms.account
    cloud.client("s3").put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, account, arn))
    # the policy allows AWSLogs/ at the bucket's root, not under the trail's prefix
    assert _err(lambda: ct.create_trail(Name=name, S3BucketName=bucket, S3KeyPrefix="audit"))[0] == (
        "InsufficientS3BucketPolicyException"
    )
    cloud.client("s3").put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, account, arn, prefix="audit"))
    ct.create_trail(Name=name, S3BucketName=bucket, S3KeyPrefix="audit")
    assert ct.get_trail_status(Name=name)["IsLogging"] is False
    ct.start_logging(Name=arn)
    status = ct.get_trail_status(Name=name)
    assert status["IsLogging"] is True and "StartLoggingTime" in status
    trail = ct.get_trail(Name=name)["Trail"]
    assert trail["HomeRegion"] == "us-east-1" and trail["S3KeyPrefix"] == "audit"
    assert trail["HasCustomEventSelectors"] is False
    assert name in [t["Name"] for t in ct.describe_trails()["trailList"]]
    assert [t["Name"] for t in ct.describe_trails(trailNameList=[arn])["trailList"]] == [name]
    assert {"TrailARN": arn, "Name": name, "HomeRegion": "us-east-1"} in ct.list_trails()["Trails"]
    # a single-Region trail is not seen from another Region, nor changed from there
    west = cloud.client("cloudtrail", region_name="us-west-2")
    assert _err(lambda: west.get_trail(Name=name))[0] == "TrailNotFoundException"
    ct.stop_logging(Name=name)
    assert ct.get_trail_status(Name=name)["IsLogging"] is False
    ct.delete_trail(Name=name)
    assert _err(lambda: ct.get_trail(Name=name))[0] == "TrailNotFoundException"


def test_a_multi_region_trail_is_seen_but_not_changed_from_other_regions(
    cloud: Running, names: tuple[str, str, str]
) -> None:
    name, arn, bucket = names
    ct, account = cloud.client("cloudtrail"), cloud.cloud.kms.account
    cloud.client("s3").put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, account, arn))
    ct.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=True)
    west = cloud.client("cloudtrail", region_name="us-west-2")
    assert west.get_trail(Name=arn)["Trail"]["HomeRegion"] == "us-east-1"
    assert _err(lambda: west.stop_logging(Name=arn))[0] == "InvalidHomeRegionException"
    assert name not in [t["Name"] for t in west.describe_trails(includeShadowTrails=False)["trailList"]]


def test_event_selectors_and_tags(cloud: Running, names: tuple[str, str, str]) -> None:
    name, arn, bucket = names
    ct, account = cloud.client("cloudtrail"), cloud.cloud.kms.account
    cloud.client("s3").put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, account, arn))
    ct.create_trail(Name=name, S3BucketName=bucket, TagsList=[{"Key": "team", "Value": "audit"}])
    assert ct.get_event_selectors(TrailName=name)["EventSelectors"][0]["ReadWriteType"] == "All"
    selectors = [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]
    assert ct.put_event_selectors(TrailName=name, EventSelectors=selectors)["EventSelectors"][0]["ReadWriteType"] == (
        "WriteOnly"
    )
    assert ct.get_trail(Name=name)["Trail"]["HasCustomEventSelectors"] is True
    bad = [{"ReadWriteType": "Sometimes"}]
    assert _err(lambda: ct.put_event_selectors(TrailName=name, EventSelectors=bad))[0] == (
        "InvalidEventSelectorsException"
    )
    ct.add_tags(ResourceId=arn, TagsList=[{"Key": "stage", "Value": "lab"}])
    tags = ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"]
    assert {"Key": "team", "Value": "audit"} in tags and {"Key": "stage", "Value": "lab"} in tags
    ct.remove_tags(ResourceId=arn, TagsList=[{"Key": "team"}])
    assert ct.list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"] == [{"Key": "stage", "Value": "lab"}]


def test_iam_decides_every_operation(cloud: Running, names: tuple[str, str, str]) -> None:
    name, arn, bucket = names
    account = cloud.cloud.kms.account
    cloud.client("s3").put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, account, arn))
    bob = cloud.client("cloudtrail", "bob")
    code, message = _err(lambda: bob.create_trail(Name=name, S3BucketName=bucket))
    assert code == "AccessDeniedException" and "cloudtrail:CreateTrail" in message
    cloud.client("cloudtrail").create_trail(Name=name, S3BucketName=bucket)
    auditor = cloud.client("cloudtrail", "auditor")
    assert auditor.get_trail(Name=name)["Trail"]["TrailARN"] == arn  # cloudtrail:Get* lets the auditor read
    assert _err(lambda: auditor.start_logging(Name=name))[0] == "AccessDeniedException"
    assert _err(lambda: auditor.delete_trail(Name=name))[0] == "AccessDeniedException"


def test_lookup_events_reads_the_clouds_records_and_public_keys_are_listed(cloud: Running) -> None:
    key_id = cloud.client("kms").create_key(Description="looked up")["KeyMetadata"]["KeyId"]
    ct = cloud.client("cloudtrail", "auditor")
    events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateKey"}])
    assert any(key_id in (r.get("ResourceName") or "") for e in events["Events"] for r in e.get("Resources", []))
    assert _err(lambda: cloud.client("cloudtrail", "bob").lookup_events())[0] == "AccessDeniedException"
    keys = ct.list_public_keys()["PublicKeyList"]
    assert len(keys) == 1 and len(keys[0]["Fingerprint"]) == 32 and keys[0]["Value"]


def test_what_the_local_cloudtrail_does_not_serve_is_named(cloud: Running, names: tuple[str, str, str]) -> None:
    ct = cloud.client("cloudtrail")
    code, message = _err(lambda: ct.get_insight_selectors(TrailName=names[0]))
    assert code == "UnsupportedOperationException" and "GetInsightSelectors" in message
    code, message = _err(lambda: ct.create_trail(Name=names[0], S3BucketName=names[2], SnsTopicName="t"))
    assert code == "UnsupportedOperationException" and "SnsTopicName" in message
