"""SSM SecureString and Secrets Manager encrypt through the local KMS, as the requester via the service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.exceptions
import pytest

from tests.cloud.conftest import Running


def _err(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        call()
    return str(exc.value.response["Error"]["Code"]), str(exc.value.response["Error"]["Message"])


@pytest.fixture
def key(cloud: Running) -> str:
    return str(cloud.client("kms").create_key(Description="params")["KeyMetadata"]["Arn"])


def test_securestring_is_ciphertext_until_decrypted_and_fails_on_a_disabled_key(cloud: Running, key: str) -> None:
    ssm = cloud.client("ssm", "alice")
    seen: list[Any] = []
    cloud.cloud.kms.add_sink(seen.append)
    try:
        ssm.put_parameter(Name="/app/db-password", Value="s3cr3t-value", Type="SecureString", KeyId=key)
        hidden = ssm.get_parameter(Name="/app/db-password")["Parameter"]
        shown = ssm.get_parameter(Name="/app/db-password", WithDecryption=True)["Parameter"]
    finally:
        cloud.cloud.kms.remove_sink(seen.append)
    assert hidden["Type"] == "SecureString" and hidden["Value"] != "s3cr3t-value"
    assert shown["Value"] == "s3cr3t-value"
    arn = "arn:aws:ssm:us-east-1:111122223333:parameter/app/db-password"
    assert [(c.operation, c.caller.invoked_by, c.request["EncryptionContext"]) for c in seen] == [
        ("Encrypt", "ssm.amazonaws.com", {"PARAMETER_ARN": arn}),
        ("Decrypt", "ssm.amazonaws.com", {"PARAMETER_ARN": arn}),
    ]
    cloud.client("kms").disable_key(KeyId=key)
    code, message = _err(lambda: ssm.get_parameter(Name="/app/db-password", WithDecryption=True))
    assert code == "InvalidKeyId" and "DisabledException" in message
    assert not any(b"s3cr3t-value" in p.read_bytes() for p in cloud.data_dir.rglob("*") if p.is_file())


def test_securestring_needs_kms_permission_of_the_requester(cloud: Running, key: str) -> None:
    cloud.client("ssm", "alice").put_parameter(Name="/svc/token", Value="tok", Type="SecureString", KeyId=key)
    admin_view = cloud.client("ssm").get_parameters_by_path(Path="/svc", WithDecryption=True)["Parameters"]
    assert {p["Name"]: p["Value"] for p in admin_view}["/svc/token"] == "tok"
    bob = cloud.client("ssm", "bob")
    code, _ = _err(lambda: bob.get_parameter(Name="/svc/token"))
    assert code == "AccessDeniedException"  # bob has no ssm permission at all


def test_default_securestring_key_is_the_aws_managed_ssm_key(cloud: Running) -> None:
    ssm = cloud.client("ssm", "alice")
    ssm.put_parameter(Name="plain-default", Value="v1", Type="SecureString")
    assert ssm.get_parameter(Name="plain-default", WithDecryption=True)["Parameter"]["Value"] == "v1"
    described = {p["Name"]: p for p in ssm.describe_parameters()["Parameters"]}
    assert described["plain-default"]["KeyId"] == "alias/aws/ssm"
    code, _ = _err(lambda: ssm.put_parameter(Name="plain-default", Value="v2", Type="SecureString"))
    assert code == "ParameterAlreadyExists"


def test_describe_parameters_applies_its_filters_and_pages(cloud: Running, key: str) -> None:
    ssm = cloud.client("ssm", "alice")
    ssm.put_parameter(Name="/flt/app/db", Value="a", Type="String", Tags=[{"Key": "team", "Value": "blue"}])
    ssm.put_parameter(Name="/flt/app/deep/db", Value="b", Type="String")
    ssm.put_parameter(Name="/flt/other", Value="c", Type="SecureString", KeyId=key)

    def names(**kwargs: Any) -> list[str]:
        pages = ssm.get_paginator("describe_parameters").paginate(**kwargs, PaginationConfig={"PageSize": 1})
        return sorted(p["Name"] for page in pages for p in page["Parameters"] if p["Name"].startswith("/flt/"))

    assert names(ParameterFilters=[{"Key": "Name", "Values": ["/flt/other"]}]) == ["/flt/other"]
    assert names(ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": ["/flt/app"]}]) == [
        "/flt/app/db",
        "/flt/app/deep/db",
    ]
    assert names(ParameterFilters=[{"Key": "Name", "Option": "Contains", "Values": ["deep"]}]) == ["/flt/app/deep/db"]
    assert names(ParameterFilters=[{"Key": "Path", "Values": ["/flt/app"]}]) == ["/flt/app/db"]
    assert names(ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": ["/flt"]}]) == [
        "/flt/app/db",
        "/flt/app/deep/db",
        "/flt/other",
    ]
    assert names(ParameterFilters=[{"Key": "Type", "Values": ["SecureString"]}]) == ["/flt/other"]
    assert names(ParameterFilters=[{"Key": "tag:team", "Values": ["blue"]}]) == ["/flt/app/db"]
    assert names(Filters=[{"Key": "Name", "Values": ["/flt/app/db"]}]) == ["/flt/app/db"]
    code, _ = _err(lambda: ssm.describe_parameters(ParameterFilters=[{"Key": "Label", "Values": ["x"]}]))
    assert code == "InvalidFilterKey"
    code, _ = _err(
        lambda: ssm.describe_parameters(ParameterFilters=[{"Key": "Type", "Option": "Contains", "Values": ["S"]}])
    )
    assert code == "InvalidFilterOption"
    code, _ = _err(
        lambda: ssm.put_parameter(
            Name="/flt/app/db", Value="d", Type="String", Overwrite=True, Tags=[{"Key": "k", "Value": "v"}]
        )
    )
    assert code == "ValidationException"


def test_secrets_manager_round_trip_versions_and_disabled_key(cloud: Running, key: str) -> None:
    sm = cloud.client("secretsmanager", "alice")
    created = sm.create_secret(Name="db/creds", SecretString='{"user":"app","password":"hunter2"}', KmsKeyId=key)
    assert created["ARN"].startswith("arn:aws:secretsmanager:us-east-1:111122223333:secret:db/creds-")
    assert sm.get_secret_value(SecretId="db/creds")["SecretString"] == '{"user":"app","password":"hunter2"}'
    second = sm.put_secret_value(SecretId=created["ARN"], SecretString="rotated")["VersionId"]
    current = sm.get_secret_value(SecretId="db/creds")
    assert current["SecretString"] == "rotated" and current["VersionId"] == second
    assert sm.get_secret_value(SecretId="db/creds", VersionStage="AWSPREVIOUS")["SecretString"].startswith('{"user"')
    assert not any(b"hunter2" in p.read_bytes() for p in cloud.data_dir.rglob("*") if p.is_file())
    cloud.client("kms").disable_key(KeyId=key)
    code, _ = _err(lambda: sm.get_secret_value(SecretId="db/creds"))
    assert code == "DecryptionFailure"


def test_secrets_manager_default_key_and_deletion(cloud: Running) -> None:
    sm = cloud.client("secretsmanager", "alice")
    sm.create_secret(Name="api-key", SecretString="abc")
    assert sm.get_secret_value(SecretId="api-key")["SecretString"] == "abc"
    sm.delete_secret(SecretId="api-key", RecoveryWindowInDays=7)
    code, _ = _err(lambda: sm.get_secret_value(SecretId="api-key"))
    assert code == "InvalidRequestException"
    code, _ = _err(lambda: sm.create_secret(Name="api-key", SecretString="again"))
    assert code == "ResourceExistsException"
