"""The wire layer: X-Amz-Target dispatch, JSON errors in AWS's shape, validation wording, identity from headers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmslab.kms import AuthorizationRequest, LocalKms
from kmslab.kms._wire import CONTENT_TYPE, caller_from_headers, dispatch
from kmslab.kms.seams import Caller

ROOT = Caller.root()


def _send(kms: LocalKms, target: str, body: bytes | dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = dispatch(kms, target=target, body=raw, caller=ROOT, region="us-east-1", request_id="req-1")
    return answer.status, json.loads(answer.body), answer.headers


def test_success_headers(kms_engine: LocalKms) -> None:
    status, body, headers = _send(kms_engine, "TrentService.CreateKey", {})
    assert status == 200 and body["KeyMetadata"]["KeyState"] == "Enabled"
    assert headers["Content-Type"] == CONTENT_TYPE and headers["x-amzn-RequestId"] == "req-1"


@pytest.mark.parametrize(
    ("target", "body", "code"),
    [
        ("TrentService.NoSuchThing", {}, "UnknownOperationException"),
        ("DynamoDB_20120810.ListTables", {}, "UnknownOperationException"),
        ("", {}, "UnknownOperationException"),
        ("TrentService.ListKeys", b"{not json", "SerializationException"),
        ("TrentService.ListKeys", b"[1, 2]", "SerializationException"),
        ("TrentService.ListKeys", b"\xff\xfe", "SerializationException"),
        ("TrentService.Encrypt", {"KeyId": "k", "Plaintext": "%%%not base64"}, "SerializationException"),
    ],
)
def test_protocol_errors(kms_engine: LocalKms, target: str, body: Any, code: str) -> None:
    status, answer, _ = _send(kms_engine, target, body)
    assert status == 400 and answer["__type"] == code and "message" in answer


@pytest.mark.parametrize(
    ("operation", "params", "message"),
    [
        (
            "Encrypt",
            {"KeyId": "k"},
            "1 validation error detected: Value null at 'plaintext' failed to satisfy constraint: "
            "Member must not be null",
        ),
        (
            "GenerateDataKey",
            {"KeyId": "k", "KeySpec": "AES_512"},
            "1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy constraint: "
            "Member must satisfy enum value set: [AES_256, AES_128]",
        ),
        (
            "GenerateRandom",
            {"NumberOfBytes": 2000},
            "1 validation error detected: Value '2000' at 'numberOfBytes' failed to satisfy constraint: "
            "Member must have value less than or equal to 1024",
        ),
        (
            "CreateAlias",
            {"AliasName": "alias/bad name!"},
            "2 validation errors detected: Value null at 'targetKeyId' failed to satisfy constraint: "
            "Member must not be null; Value 'alias/bad name!' at 'aliasName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
        ),
    ],
)
def test_validation_wording(kms_engine: LocalKms, operation: str, params: dict[str, Any], message: str) -> None:
    status, answer, _ = _send(kms_engine, f"TrentService.{operation}", params)
    assert (status, answer) == (400, {"__type": "ValidationException", "message": message})


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("Encrypt", {"KeyId": 5, "Plaintext": "eA=="}),
        ("Encrypt", {"KeyId": "k", "Plaintext": 12}),
        ("Encrypt", {"KeyId": "k", "Plaintext": "eA==", "EncryptionContext": ["a"]}),
        ("Encrypt", {"KeyId": "k", "Plaintext": "eA==", "EncryptionContext": {"a": 1}}),
        ("GenerateDataKey", {"KeyId": "k", "NumberOfBytes": "32"}),
        ("GenerateDataKey", {"KeyId": "k", "NumberOfBytes": True}),
        ("CreateKey", {"MultiRegion": "yes"}),
        ("CreateKey", {"Tags": {"TagKey": "a"}}),
        ("CreateKey", {"Tags": [{"TagKey": "a"}]}),
        ("ImportKeyMaterial", {"KeyId": "k", "ImportToken": "eA==", "EncryptedKeyMaterial": "eA==", "ValidTo": "soon"}),
        ("ListKeys", {"Limit": 0}),
        ("Decrypt", {}),
    ],
)
def test_wrong_types_are_validation_errors(kms_engine: LocalKms, operation: str, params: dict[str, Any]) -> None:
    status, answer, _ = _send(kms_engine, f"TrentService.{operation}", params)
    assert status == 400 and answer["__type"] == "ValidationException"
    assert answer["message"].startswith("1 validation error detected: Value")


def test_unexpected_errors_answer_500(kms_engine: LocalKms) -> None:
    class Broken:
        def authorize(self, request: AuthorizationRequest) -> None:
            raise RuntimeError("authorizer bug")

    kms_engine.authorizer = Broken()
    status, answer, _ = _send(kms_engine, "TrentService.ListKeys", {})
    assert (status, answer["__type"]) == (500, "KMSInternalException")


def test_caller_from_headers() -> None:
    headers = {
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/kms/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc",
        "User-Agent": "Boto3/1.40",
    }
    caller, region = caller_from_headers(headers, account="111122223333", source_ip="10.0.0.9")
    assert region == "eu-west-1"
    assert (caller.arn, caller.access_key_id, caller.source_ip, caller.user_agent) == (
        "arn:aws:iam::111122223333:root",
        "AKIDEXAMPLE",
        "10.0.0.9",
        "Boto3/1.40",
    )
    caller, region = caller_from_headers({}, account="111122223333", source_ip="::1", default_region="ap-south-1")
    assert region == "ap-south-1" and caller.access_key_id is None


def test_boto_client_region_reaches_the_engine(kms_engine: LocalKms) -> None:
    west = kms_engine.boto3_client(region="eu-west-1")
    arn = west.create_key()["KeyMetadata"]["Arn"]
    assert arn.startswith("arn:aws:kms:eu-west-1:")
