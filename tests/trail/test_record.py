"""CloudTrail records of KMS calls have AWS's fields and shapes, and never carry secrets."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from kmslab.trail.record import READ_ONLY_OPERATIONS, cloudtrail_date, to_cloudtrail_record
from tests.trail.helpers import (
    ACCOUNT,
    ALICE,
    APP_ROLE,
    CIPHERTEXT_B64,
    KEY_ARN,
    KEY_ID,
    PLAINTEXT_B64,
    REGION,
    S3_FOR_APP,
    call,
)

pytestmark = pytest.mark.unit

SECRETS = (PLAINTEXT_B64, CIPHERTEXT_B64, "U0VDUkVU", "IMPORT-TOKEN-B64", "KEY-MATERIAL-B64", "SIGNATURE-B64")


def _assert_no_secrets(record: dict[str, object]) -> None:
    text = json.dumps(record)
    for secret in SECRETS:
        assert secret not in text
    for field in ("plaintext", "ciphertextBlob", "keyMaterial", "importToken", "message", "signature", "mac"):
        assert f'"{field}"' not in text


def test_decrypt_record_matches_the_kms_developer_guide_shape() -> None:
    record = to_cloudtrail_record(
        call(
            "Decrypt",
            {"CiphertextBlob": CIPHERTEXT_B64, "EncryptionContext": {"Department": "Engineering"}},
            response={"KeyId": KEY_ARN, "Plaintext": PLAINTEXT_B64, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"},
        )
    )
    assert record["eventVersion"].startswith("1.")
    assert record["eventSource"] == "kms.amazonaws.com"
    assert record["eventName"] == "Decrypt"
    assert record["eventTime"] == "2026-03-04T05:06:07Z"
    assert record["awsRegion"] == REGION
    assert record["userIdentity"] == {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEALICE",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/Alice",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAEXAMPLEALICE",
        "userName": "Alice",
    }
    assert record["sourceIPAddress"] == "192.0.2.10"
    assert record["userAgent"] == "aws-cli/2.17.0"
    # Decrypt always logs the algorithm, even when the request did not name one; no keyId was sent.
    assert record["requestParameters"] == {
        "encryptionContext": {"Department": "Engineering"},
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }
    assert record["responseElements"] is None
    assert record["readOnly"] is True
    assert record["resources"] == [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": KEY_ARN}]
    assert record["eventType"] == "AwsApiCall"
    assert record["managementEvent"] is True
    assert record["recipientAccountId"] == ACCOUNT
    assert record["eventCategory"] == "Management"
    assert record["requestID"] == "req-1"
    assert uuid.UUID(record["eventID"]).version == 4
    assert record["tlsDetails"]["clientProvidedHostHeader"] == f"kms.{REGION}.amazonaws.com"
    assert "errorCode" not in record
    _assert_no_secrets(record)


@pytest.mark.parametrize(
    ("operation", "request_body", "expected"),
    [
        (
            "Encrypt",
            {"KeyId": KEY_ID, "Plaintext": PLAINTEXT_B64, "EncryptionContext": {"a": "b"}},
            {"keyId": KEY_ID, "encryptionContext": {"a": "b"}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
        ),
        (
            "GenerateDataKey",
            {"KeyId": KEY_ID, "KeySpec": "AES_256", "EncryptionContext": {"p": "q"}, "GrantTokens": ["gt"]},
            {"keyId": KEY_ID, "keySpec": "AES_256", "encryptionContext": {"p": "q"}, "grantTokens": ["gt"]},
        ),
        ("GenerateRandom", {"NumberOfBytes": 32}, {"numberOfBytes": 32}),
        (
            "Sign",
            {"KeyId": KEY_ID, "Message": PLAINTEXT_B64, "MessageType": "RAW", "SigningAlgorithm": "ECDSA_SHA_256"},
            {"keyId": KEY_ID, "messageType": "RAW", "signingAlgorithm": "ECDSA_SHA_256"},
        ),
        (
            "Verify",
            {"KeyId": KEY_ID, "Message": PLAINTEXT_B64, "Signature": "SIGNATURE-B64", "SigningAlgorithm": "X"},
            {"keyId": KEY_ID, "signingAlgorithm": "X"},
        ),
        (
            "ReEncrypt",
            {"CiphertextBlob": CIPHERTEXT_B64, "DestinationKeyId": "alias/b", "SourceEncryptionContext": {"s": "1"}},
            {"destinationKeyId": "alias/b", "sourceEncryptionContext": {"s": "1"}},
        ),
        (
            "ImportKeyMaterial",
            {
                "KeyId": KEY_ID,
                "ImportToken": "IMPORT-TOKEN-B64",
                "EncryptedKeyMaterial": "KEY-MATERIAL-B64",
                "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
            },
            {"keyId": KEY_ID, "expirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"},
        ),
        (
            "GenerateMac",
            {"KeyId": KEY_ID, "Message": PLAINTEXT_B64, "MacAlgorithm": "HMAC_SHA_256"},
            {"keyId": KEY_ID, "macAlgorithm": "HMAC_SHA_256"},
        ),
    ],
)
def test_request_parameters_are_allow_listed_per_operation(
    operation: str, request_body: dict[str, object], expected: dict[str, object]
) -> None:
    record = to_cloudtrail_record(
        call(operation, request_body, response={"Plaintext": PLAINTEXT_B64, "CiphertextBlob": CIPHERTEXT_B64})
    )
    assert record["requestParameters"] == expected
    assert record["responseElements"] is None  # cryptographic operations (and ImportKeyMaterial) log no response
    assert record["readOnly"] is (operation != "ImportKeyMaterial")
    _assert_no_secrets(record)


def test_create_key_logs_key_metadata_with_cloudtrail_dates_and_is_not_read_only() -> None:
    metadata = {
        "AWSAccountId": ACCOUNT,
        "KeyId": KEY_ID,
        "Arn": KEY_ARN,
        "CreationDate": datetime(2026, 3, 4, 17, 5, 9, tzinfo=UTC).timestamp(),
        "Enabled": True,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": "Enabled",
        "KeySpec": "SYMMETRIC_DEFAULT",
    }
    record = to_cloudtrail_record(
        call("CreateKey", {"Description": "orders", "KeyUsage": "ENCRYPT_DECRYPT"}, response={"KeyMetadata": metadata})
    )
    assert record["readOnly"] is False
    assert record["requestParameters"] == {"description": "orders", "keyUsage": "ENCRYPT_DECRYPT"}
    logged = record["responseElements"]["keyMetadata"]
    assert logged["aWSAccountId"] == ACCOUNT
    assert logged["arn"] == KEY_ARN
    assert logged["creationDate"] == "Mar 4, 2026, 5:05:09 PM"
    assert logged["keyState"] == "Enabled"


def test_schedule_key_deletion_logs_deletion_date_and_window() -> None:
    deletion = datetime(2026, 3, 11, 0, 0, tzinfo=UTC).timestamp()
    record = to_cloudtrail_record(
        call(
            "ScheduleKeyDeletion",
            {"KeyId": KEY_ID, "PendingWindowInDays": 7},
            response={
                "KeyId": KEY_ARN,
                "DeletionDate": deletion,
                "KeyState": "PendingDeletion",
                "PendingWindowInDays": 7,
            },
        )
    )
    assert record["requestParameters"] == {"keyId": KEY_ID, "pendingWindowInDays": 7}
    assert record["responseElements"] == {
        "keyId": KEY_ARN,
        "deletionDate": "Mar 11, 2026, 12:00:00 AM",
        "keyState": "PendingDeletion",
        "pendingWindowInDays": 7,
    }
    assert record["readOnly"] is False


def test_failed_call_logs_error_and_no_response() -> None:
    message = f"{KEY_ARN} is pending deletion."
    record = to_cloudtrail_record(
        call("Encrypt", {"KeyId": KEY_ID, "Plaintext": PLAINTEXT_B64}, error=("KMSInvalidStateException", message))
    )
    assert record["errorCode"] == "KMSInvalidStateException"
    assert record["errorMessage"] == message
    assert record["responseElements"] is None
    assert record["requestParameters"]["keyId"] == KEY_ID
    _assert_no_secrets(record)


def test_access_denied_is_logged_with_cloudtrail_error_code() -> None:
    record = to_cloudtrail_record(call("Decrypt", {}, error=("AccessDeniedException", "User: x is not authorized")))
    assert record["errorCode"] == "AccessDenied"
    assert record["errorMessage"] == "User: x is not authorized"


def test_assumed_role_identity_has_session_issuer() -> None:
    record = to_cloudtrail_record(call("DescribeKey", {"KeyId": KEY_ID}, caller=APP_ROLE))
    identity = record["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == APP_ROLE.arn
    assert identity["sessionContext"]["sessionIssuer"] == {
        "type": "Role",
        "principalId": "AROAEXAMPLEAPP",
        "arn": f"arn:aws:iam::{ACCOUNT}:role/AppRole",
        "accountId": ACCOUNT,
        "userName": "AppRole",
    }
    assert "tlsDetails" not in record  # the call did not come over TLS


def test_service_invoked_call_names_the_service_as_source() -> None:
    context = {"aws:s3:arn": "arn:aws:s3:::bucket/report.csv"}
    record = to_cloudtrail_record(
        call(
            "GenerateDataKey", {"KeyId": KEY_ARN, "KeySpec": "AES_256", "EncryptionContext": context}, caller=S3_FOR_APP
        )
    )
    assert record["userIdentity"]["invokedBy"] == "s3.amazonaws.com"
    assert record["userIdentity"]["arn"] == APP_ROLE.arn
    assert record["sourceIPAddress"] == "s3.amazonaws.com"
    assert record["userAgent"] == "s3.amazonaws.com"
    assert record["requestParameters"]["encryptionContext"] == context


def test_root_and_unknown_operation_fallbacks() -> None:
    from kmslab.kms.seams import Caller

    record = to_cloudtrail_record(
        call("FutureOperation", {"KeyId": KEY_ID, "Secret": "x"}, caller=Caller.root(ACCOUNT))
    )
    assert record["userIdentity"]["type"] == "Root"
    assert record["userIdentity"]["principalId"] == ACCOUNT
    assert record["requestParameters"] == {"keyId": KEY_ID}  # unknown operations keep only the key
    assert record["readOnly"] is False


def test_record_does_not_alias_the_request() -> None:
    context = {"k": "v"}
    record = to_cloudtrail_record(call("Encrypt", {"KeyId": KEY_ID, "EncryptionContext": context}))
    context["k"] = "changed"
    assert record["requestParameters"]["encryptionContext"] == {"k": "v"}


def test_read_only_marks_follow_aws() -> None:
    assert {"Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey", "ListKeys"} <= READ_ONLY_OPERATIONS
    assert not {"CreateKey", "ScheduleKeyDeletion", "PutKeyPolicy", "CreateGrant"} & READ_ONLY_OPERATIONS


def test_cloudtrail_date_formats_noon_and_midnight() -> None:
    assert cloudtrail_date(datetime(2026, 1, 2, 12, 0, 1, tzinfo=UTC)) == "Jan 2, 2026, 12:00:01 PM"
    assert cloudtrail_date(datetime(2026, 1, 2, 0, 30, 0, tzinfo=UTC)) == "Jan 2, 2026, 12:30:00 AM"


def test_record_of_every_operation_is_json_serializable() -> None:
    record = to_cloudtrail_record(
        call(
            "CreateGrant",
            {"KeyId": KEY_ID, "GranteePrincipal": ALICE.arn, "Operations": ["Decrypt"]},
            response={"GrantId": "g1", "GrantToken": "tok"},
        )
    )
    assert json.loads(json.dumps(record))["responseElements"] == {"grantId": "g1"}
