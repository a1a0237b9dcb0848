"""Identities: STS AssumeRole with trust policies, session credentials on every service, SigV4 details."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions
import pytest

from kmslab.iam import IamError, parse_signature, verify_signature
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
