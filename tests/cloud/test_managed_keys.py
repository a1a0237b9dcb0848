"""AWS managed keys aws/s3, aws/ssm, aws/secretsmanager: made on first use, with AWS's policy, aliases and rotation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmslab.kms import LocalKms
from kmslab.kms.ops.managed import managed_key_policy
from tests.cloud.conftest import Running

ACCOUNT = "111122223333"


def _code(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    return error["Code"], error.get("Message", "")


def _alias_target(kms: Any, name: str) -> str | None:
    for alias in kms.list_aliases()["Aliases"]:
        if alias["AliasName"] == name and "TargetKeyId" in alias:
            return str(alias["TargetKeyId"])
    return None


def test_first_use_by_each_service_creates_its_managed_key(cloud: Running, unique: Callable[[str], str]) -> None:
    kms = cloud.client("kms")
    bucket = unique("managed")
    s3 = cloud.client("s3", "alice")
    s3.create_bucket(Bucket=bucket)
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"data", ServerSideEncryption="aws:kms")
    cloud.client("ssm", "alice").put_parameter(Name=unique("/p"), Value="v", Type="SecureString")
    cloud.client("secretsmanager", "alice").create_secret(Name=unique("s"), SecretString="x")
    for service in ("s3", "ssm", "secretsmanager"):
        target = _alias_target(kms, f"alias/aws/{service}")
        assert target is not None, service
        meta = kms.describe_key(KeyId=f"alias/aws/{service}")["KeyMetadata"]
        assert meta["KeyId"] == target
        assert meta["KeyManager"] == "AWS"
        assert meta["Description"].startswith("Default key that protects my")
        rotation = kms.get_key_rotation_status(KeyId=target)
        assert rotation["KeyRotationEnabled"] is True and rotation["RotationPeriodInDays"] == 365
        policy = json.loads(kms.get_key_policy(KeyId=target, PolicyName="default")["Policy"])
        assert policy == json.loads(managed_key_policy(ACCOUNT, "us-east-1", service))
        condition = policy["Statement"][0]["Condition"]["StringEquals"]
        assert condition == {"kms:CallerAccount": ACCOUNT, "kms:ViaService": f"{service}.us-east-1.amazonaws.com"}
    assert put["SSEKMSKeyId"].endswith(_alias_target(kms, "alias/aws/s3") or "?")
    # the same key serves the next request: one managed key per service
    again = s3.put_object(Bucket=bucket, Key="k2", Body=b"more", ServerSideEncryption="aws:kms")
    assert again["SSEKMSKeyId"] == put["SSEKMSKeyId"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"


def test_managed_keys_work_only_through_their_service(cloud: Running, unique: Callable[[str], str]) -> None:
    arn = cloud.cloud.kms.aws_managed_key("s3", "us-east-1")
    admin = cloud.client("kms")  # AdministratorAccess, but the key policy allows direct use to no one
    code, message = _code(lambda: admin.encrypt(KeyId=arn, Plaintext=b"x"))
    assert code == "AccessDeniedException"
    assert "kms:Encrypt" in message
    bucket = unique("via")
    cloud.client("s3").create_bucket(Bucket=bucket)
    bob = cloud.client("s3", "bob")  # no KMS permission of his own: the key policy lets S3 use it for him
    bob.put_object(Bucket=bucket, Key="b", Body=b"bob", ServerSideEncryption="aws:kms")
    assert bob.get_object(Bucket=bucket, Key="b")["Body"].read() == b"bob"


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("schedule_key_deletion", {"PendingWindowInDays": 7}),
        ("put_key_policy", {"PolicyName": "default", "Policy": json.dumps({"Version": "2012-10-17", "Statement": []})}),
        ("disable_key", {}),
        ("disable_key_rotation", {}),
        ("enable_key_rotation", {}),
        ("tag_resource", {"Tags": [{"TagKey": "a", "TagValue": "b"}]}),
        ("update_key_description", {"Description": "mine"}),
    ],
)
def test_customers_cannot_manage_a_managed_key(cloud: Running, operation: str, params: dict[str, Any]) -> None:
    arn = cloud.cloud.kms.aws_managed_key("ssm", "us-east-1")
    admin = cloud.client("kms")
    code, message = _code(lambda: getattr(admin, operation)(KeyId=arn, **params))
    assert code == "AccessDeniedException"
    assert "no resource-based policy allows" in message
    meta = admin.describe_key(KeyId=arn)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["KeyManager"] == "AWS"


@pytest.mark.parametrize("call", ["create_alias", "update_alias", "delete_alias"])
def test_alias_aws_prefix_is_reserved(cloud: Running, call: str) -> None:
    admin = cloud.client("kms")
    mine = admin.create_key()["KeyMetadata"]["KeyId"]
    cloud.cloud.kms.aws_managed_key("secretsmanager", "us-east-1")
    params = {"AliasName": "alias/aws/secretsmanager"}
    if call != "delete_alias":
        params["TargetKeyId"] = mine
    code, _ = _code(lambda: getattr(admin, call)(**params))
    assert code == "NotAuthorizedException"
    assert _alias_target(admin, "alias/aws/secretsmanager") != mine


def test_describe_key_on_a_predefined_alias_creates_the_key(tmp_path: Any) -> None:
    kms = LocalKms(tmp_path / "kms", account=ACCOUNT, region="eu-west-1")
    try:
        client = kms.boto3_client("eu-west-1")
        listed = [a for a in client.list_aliases()["Aliases"] if a["AliasName"] == "alias/aws/s3"]
        assert [set(a) for a in listed] == [{"AliasName", "AliasArn"}]  # reserved, not made yet
        meta = client.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
        assert meta["KeyManager"] == "AWS" and meta["Arn"].startswith("arn:aws:kms:eu-west-1:")
        assert kms.aws_managed_key("s3", "eu-west-1") == meta["Arn"]
        code, _ = _code(lambda: client.describe_key(KeyId="alias/aws/nothing"))
        assert code == "NotFoundException"
    finally:
        kms.close()
    reopened = LocalKms(tmp_path / "kms", account=ACCOUNT, region="eu-west-1")  # persisted, KeyManager too
    try:
        meta = reopened.boto3_client("eu-west-1").describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
        assert meta["KeyManager"] == "AWS"
    finally:
        reopened.close()


def test_managed_key_rotates_after_a_year(cloud: Running) -> None:
    from datetime import timedelta

    arn = cloud.cloud.kms.aws_managed_key("s3", "us-east-1")
    admin = cloud.client("kms")
    before = admin.describe_key(KeyId=arn)["KeyMetadata"]["CurrentKeyMaterialId"]
    cloud.cloud.kms.advance_time(timedelta(days=366))
    rotations = admin.list_key_rotations(KeyId=arn)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]
    assert admin.describe_key(KeyId=arn)["KeyMetadata"]["CurrentKeyMaterialId"] != before
