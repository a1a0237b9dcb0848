"""Deletion windows and completion, multi-Region keys and replicas, aliases, tags and key policies."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmslab.kms.policy import default_key_policy
from tests.kms.conftest import START
from tests.kms.helpers import ACCOUNT, covers, error_of, key_arn

# -- deletion -----------------------------------------------------------------------------


@covers("ScheduleKeyDeletion", aspect="errors")
@pytest.mark.parametrize(("days", "ok"), [(6, False), (7, True), (30, True), (31, False)])
def test_deletion_window_bounds(kms: Any, days: int, ok: bool) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    if ok:
        out = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=days)
        assert out["KeyId"] == key_arn(key_id)
        assert (out["KeyState"], out["PendingWindowInDays"]) == ("PendingDeletion", days)
        assert out["DeletionDate"] == START + timedelta(days=days)
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        assert meta["DeletionDate"] == START + timedelta(days=days) and meta["PendingDeletionWindowInDays"] == days
        return
    with pytest.raises(ClientError) as exc:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=days)
    code, message = error_of(exc)
    assert code == "ValidationException" and f"Value '{days}' at 'pendingWindowInDays'" in message
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_default_window_is_30_days(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.schedule_key_deletion(KeyId=key_id)["PendingWindowInDays"] == 30


def test_deletion_completes_when_the_clock_passes(kms_engine: Any, kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    keep = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/doomed", TargetKeyId=key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"lost forever")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms_engine.advance_time(timedelta(days=7) - timedelta(seconds=1))
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    kms_engine.advance_time(timedelta(seconds=1))
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=key_id)
    assert error_of(exc) == ("NotFoundException", f"Key '{key_arn(key_id)}' does not exist")
    assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [keep]
    assert [a for a in kms.list_aliases()["Aliases"] if "TargetKeyId" in a] == []
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)
    assert error_of(exc)[0] == "NotFoundException"


# -- multi-Region -------------------------------------------------------------------------


def test_multi_region_key_and_replica(kms_engine: Any, kms: Any) -> None:
    meta = kms.create_key(MultiRegion=True, Description="global")["KeyMetadata"]
    key_id = meta["KeyId"]
    assert key_id.startswith("mrk-") and len(key_id) == 36
    assert meta["MultiRegion"] is True
    assert meta["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": key_arn(key_id), "Region": "us-east-1"},
        "ReplicaKeys": [],
    }
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"everywhere", EncryptionContext={"c": "1"})["CiphertextBlob"]
    out = kms.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1", Tags=[{"TagKey": "r", "TagValue": "eu"}])
    replica = out["ReplicaKeyMetadata"]
    assert replica["KeyId"] == key_id and replica["Arn"] == key_arn(key_id, "eu-west-1")
    assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert replica["Description"] == "global" and out["ReplicaPolicy"] == kms.get_key_policy(KeyId=key_id)["Policy"]
    assert out["ReplicaTags"] == [{"TagKey": "r", "TagValue": "eu"}]
    primary = kms.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    assert primary["ReplicaKeys"] == [{"Arn": key_arn(key_id, "eu-west-1"), "Region": "eu-west-1"}]
    west = kms_engine.boto3_client(region="eu-west-1")
    decrypted = west.decrypt(CiphertextBlob=blob, EncryptionContext={"c": "1"})
    assert decrypted["Plaintext"] == b"everywhere" and decrypted["KeyId"] == key_arn(key_id, "eu-west-1")
    back = west.encrypt(KeyId=key_id, Plaintext=b"from eu")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=back)["Plaintext"] == b"from eu"
    # Rotation of the primary reaches the replica.
    kms.rotate_key_on_demand(KeyId=key_id)
    rotated = kms.encrypt(KeyId=key_id, Plaintext=b"rotated")["CiphertextBlob"]
    assert west.decrypt(CiphertextBlob=rotated)["Plaintext"] == b"rotated"
    with pytest.raises(ClientError) as exc:
        kms.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1")
    assert error_of(exc)[0] == "AlreadyExistsException"
    with pytest.raises(ClientError) as exc:
        west.replicate_key(KeyId=key_id, ReplicaRegion="ap-south-1")
    assert error_of(exc)[0] == "UnsupportedOperationException"


@covers("ReplicateKey", aspect="errors")
def test_single_region_key_cannot_be_replicated_nor_decrypted_elsewhere(kms_engine: Any, kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1")
    assert error_of(exc)[0] == "UnsupportedOperationException"
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"here only")["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        kms_engine.boto3_client(region="eu-west-1").decrypt(CiphertextBlob=blob)
    assert error_of(exc)[0] == "NotFoundException"


def test_primary_with_replicas_waits_for_replica_deletion(kms_engine: Any, kms: Any) -> None:
    key_id = kms.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    kms.replicate_key(KeyId=key_id, ReplicaRegion="eu-west-1")
    out = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyState"] == "PendingReplicaDeletion" and "DeletionDate" not in out
    west = kms_engine.boto3_client(region="eu-west-1")
    west.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms_engine.advance_time(timedelta(days=7))
    with pytest.raises(ClientError):
        west.describe_key(KeyId=key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    assert meta["DeletionDate"] == START + timedelta(days=14)
    kms_engine.advance_time(timedelta(days=7))
    with pytest.raises(ClientError):
        kms.describe_key(KeyId=key_id)


# -- aliases ------------------------------------------------------------------------------


def test_alias_lifecycle(kms: Any) -> None:
    first = kms.create_key()["KeyMetadata"]["KeyId"]
    second = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/app", TargetKeyId=key_arn(first))
    kms.create_alias(AliasName="alias/other", TargetKeyId=second)
    entries = [a for a in kms.list_aliases()["Aliases"] if not a["AliasName"].startswith("alias/aws/")]
    assert [(a["AliasName"], a["TargetKeyId"]) for a in entries] == [("alias/app", first), ("alias/other", second)]
    assert entries[0]["AliasArn"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/app"
    assert entries[0]["CreationDate"] == START
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=second)["Aliases"]] == ["alias/other"]
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName="alias/app", TargetKeyId=second)
    assert error_of(exc) == (
        "AlreadyExistsException",
        f"An alias with the name arn:aws:kms:us-east-1:{ACCOUNT}:alias/app already exists",
    )
    kms.update_alias(AliasName="alias/app", TargetKeyId=second)
    assert kms.describe_key(KeyId="alias/app")["KeyMetadata"]["KeyId"] == second
    kms.delete_alias(AliasName="alias/app")
    with pytest.raises(ClientError) as exc:
        kms.delete_alias(AliasName="alias/app")
    assert error_of(exc)[0] == "NotFoundException"
    page = kms.list_aliases(Limit=1)
    assert len(page["Aliases"]) == 1 and page["Truncated"] is True
    rest = kms.list_aliases(Marker=page["NextMarker"])["Aliases"]
    assert [a["AliasName"] for a in page["Aliases"] + rest][-1] == "alias/other"


def test_predefined_aliases_are_listed_without_a_target(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/mine", TargetKeyId=key_id)
    entries = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    assert {"alias/aws/s3", "alias/aws/secretsmanager", "alias/aws/ssm", "alias/mine"} <= set(entries)
    assert set(entries["alias/aws/s3"]) == {"AliasName", "AliasArn"}
    assert entries["alias/aws/s3"]["AliasArn"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/aws/s3"
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=key_id)["Aliases"]] == ["alias/mine"]
    s3_key = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["KeyId"]  # KMS makes it on first use
    made = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    assert made["alias/aws/s3"]["TargetKeyId"] == s3_key
    assert len([a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/aws/s3"]) == 1


@covers("CreateAlias", aspect="errors")
@pytest.mark.parametrize(("name", "code"), [("app", "ValidationException"), ("alias/aws/s3", "NotAuthorizedException")])
def test_alias_name_rules(kms: Any, name: str, code: str) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName=name, TargetKeyId=key_id)
    assert error_of(exc)[0] == code


@covers("UpdateAlias", aspect="errors")
def test_update_alias_needs_same_key_type(kms: Any) -> None:
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/typed", TargetKeyId=symmetric)
    with pytest.raises(ClientError) as exc:
        kms.update_alias(AliasName="alias/typed", TargetKeyId=signing)
    assert error_of(exc)[0] == "ValidationException"


# -- tags ---------------------------------------------------------------------------------


@covers("TagResource", aspect="errors")
def test_tags(kms: Any) -> None:
    key_id = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "a"}])["KeyMetadata"]["KeyId"]
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "team", "TagValue": "b"}, {"TagKey": "env", "TagValue": ""}])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [
        {"TagKey": "env", "TagValue": ""},
        {"TagKey": "team", "TagValue": "b"},
    ]
    kms.untag_resource(KeyId=key_id, TagKeys=["env", "absent"])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "team", "TagValue": "b"}]
    with pytest.raises(ClientError) as exc:
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}])
    assert error_of(exc)[0] == "TagException"
    with pytest.raises(ClientError) as exc:
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": f"k{i}", "TagValue": "v"} for i in range(50)])
    assert error_of(exc)[0] == "LimitExceededException"


# -- key policy ---------------------------------------------------------------------------


@covers("GetKeyPolicy", "PutKeyPolicy", aspect="errors")
def test_key_policy(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    out = kms.get_key_policy(KeyId=key_id, PolicyName="default")
    assert out["Policy"] == default_key_policy(ACCOUNT) and out["PolicyName"] == "default"
    assert kms.list_key_policies(KeyId=key_id)["PolicyNames"] == ["default"]
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy)
    assert kms.get_key_policy(KeyId=key_id)["Policy"] == policy
    with pytest.raises(ClientError) as exc:
        kms.get_key_policy(KeyId=key_id, PolicyName="other")
    assert error_of(exc)[0] == "NotFoundException"
    with pytest.raises(ClientError) as exc:
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy="{not json")
    assert error_of(exc)[0] == "MalformedPolicyDocumentException"
    created = kms.create_key(Policy=policy)["KeyMetadata"]["KeyId"]
    assert kms.get_key_policy(KeyId=created)["Policy"] == policy
    with pytest.raises(ClientError) as exc:
        kms.create_key(Policy="[]")
    assert error_of(exc)[0] == "MalformedPolicyDocumentException"
