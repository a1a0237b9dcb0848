"""Identities: STS AssumeRole with trust policies, session credentials on every service, SigV4 details."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions
import pytest

from kmslab.iam import IamError, parse_signature, verify_signature
from kmslab.iam.roles import role_from_document
from tests.cloud.conftest import Running

ROLE = "arn:aws:iam::111122223333:role/KmsLabKeyUser"


def _code(call: Callable[[], Any]) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        call()
    return str(exc.value.response["Error"]["Code"])


def test_assume_role_gives_session_credentials_every_service_accepts(cloud: Running) -> None:
    creds = cloud.client("sts", "alice").assume_role(RoleArn=ROLE, RoleSessionName="lesson")["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    session = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    who = cloud.client("sts", creds=session).get_caller_identity()
    assert who["Arn"] == "arn:aws:sts::111122223333:assumed-role/KmsLabKeyUser/lesson"
    kms = cloud.client("kms", creds=session)
    key = cloud.client("kms").create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"role data")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"role data"
    # The role's policies are what count: it has no SQS permission.
    assert _code(lambda: cloud.client("sqs", creds=session).list_queues()) == "AccessDeniedException"


def test_session_token_must_match(cloud: Running) -> None:
    creds = cloud.client("sts", "alice").assume_role(RoleArn=ROLE, RoleSessionName="tamper")["Credentials"]
    forged = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"][:-4] + "AAAA",
    }
    assert _code(lambda: cloud.client("sts", creds=forged).get_caller_identity()) == "InvalidClientTokenId"
    no_token = {k: v for k, v in forged.items() if k != "aws_session_token"}
    assert _code(lambda: cloud.client("kms", creds=no_token).list_keys()) == "UnrecognizedClientException"


def test_trust_policy_refuses_principals_it_does_not_name(cloud: Running) -> None:
    assert _code(lambda: cloud.client("sts", "bob").assume_role(RoleArn=ROLE, RoleSessionName="xy")) == "AccessDenied"
    assert (
        _code(lambda: cloud.client("sts", "alice").assume_role(RoleArn=ROLE + "Nope", RoleSessionName="xy"))
        == "AccessDenied"
    )
    assert (
        _code(
            lambda: cloud.client("sts", "alice").assume_role(RoleArn=ROLE, RoleSessionName="xy", DurationSeconds=7200)
        )
        == "ValidationError"
    )


def _presigned_headers() -> tuple[dict[str, str], str, str]:
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    request = botocore.awsrequest.AWSRequest(method="GET", url="https://localhost:4566/bucket/key.txt")
    signer = botocore.auth.S3SigV4QueryAuth(
        botocore.credentials.Credentials("AKIATESTTESTTESTTEST", "secret"), "s3", "us-east-1", expires=60
    )
    signer.add_auth(request)
    url = request.url
    path, _, query = url.split("localhost:4566", 1)[1].partition("?")
    return {"host": "localhost:4566"}, path, query


def test_presigned_url_verifies_then_expires() -> None:
    headers, path, query = _presigned_headers()
    signed = parse_signature(headers, query)
    assert signed is not None and signed.presigned and signed.service == "s3"
    now = datetime.strptime(signed.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    kwargs = {
        "secret": "secret",
        "method": "GET",
        "raw_path": path,
        "query": query,
        "headers": headers,
        "body_sha256": None,
    }
    verify_signature(signed, now=now + timedelta(seconds=30), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(IamError) as expired:
        verify_signature(signed, now=now + timedelta(seconds=61), **kwargs)  # type: ignore[arg-type]
    assert expired.value.kind == "expired"
    with pytest.raises(IamError) as wrong:
        verify_signature(signed, now=now, **{**kwargs, "raw_path": "/bucket/other.txt"})  # type: ignore[arg-type]
    assert wrong.value.kind == "bad-signature"


def test_users_and_roles_created_through_the_iam_api_are_identities(cloud: Running) -> None:
    import json

    iam = cloud.client("iam")
    user = iam.create_user(UserName="carol")["User"]
    iam.put_user_policy(
        UserName="carol",
        PolicyName="queues",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["sqs:ListQueues", "sts:AssumeRole"], "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="carol")["AccessKey"]
    carol = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    assert cloud.client("sts", creds=carol).get_caller_identity()["Arn"] == user["Arn"]
    assert cloud.client("sqs", creds=carol).list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert _code(lambda: cloud.client("sqs", creds=carol).create_queue(QueueName="carol-q")) == "AccessDeniedException"
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName="CarolRole", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(
        RoleName="CarolRole",
        PolicyName="kms-read",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:ListKeys", "Resource": "*"}]}
        ),
    )
    assumed = cloud.client("sts", creds=carol).assume_role(RoleArn=role["Arn"], RoleSessionName="carol")
    # The session's ID is IAM's RoleId for the role, as on AWS.
    assert assumed["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:carol"
    creds = assumed["Credentials"]
    session = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    assert "Keys" in cloud.client("kms", creds=session).list_keys()
    assert (
        _code(lambda: cloud.client("sts", "bob").assume_role(RoleArn=role["Arn"], RoleSessionName="bob"))
        == "AccessDenied"
    )
    iam.delete_user_policy(UserName="carol", PolicyName="queues")
    assert _code(lambda: cloud.client("sqs", creds=carol).list_queues()) == "AccessDeniedException"


def test_each_role_has_its_own_stable_unique_id() -> None:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*"}]}
    arns = [f"arn:aws:iam::111122223333:role/{name}" for name in ("KmsLabKeyAdmin", "KmsLabKeyUser", "KmsLabAuditor")]
    roles = [role_from_document(arn, trust, ()) for arn in arns]
    ids = [role.role_id for role in roles if role is not None]
    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"AROA[A-Z2-7]{17}", i) for i in ids)
    again = role_from_document(arns[0], trust, ())
    assert again is not None and again.role_id == ids[0]
    given = role_from_document(arns[0], trust, (), unique_id="AROAIAMGAVETHISONE01")
    assert given is not None and given.role_id == "AROAIAMGAVETHISONE01"
