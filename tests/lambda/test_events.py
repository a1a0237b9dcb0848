"""The typed event classes: what they read from real CloudTrail shapes, and what they refuse."""

from __future__ import annotations

import pytest
from kms_events.errors import IgnoredEventError
from kms_events.events import KmsApiCallEvent, parse_kms_api_call

from tests.events import SAMPLE_KEY_ARN, SAMPLE_KEY_ID, load_event

pytestmark = pytest.mark.unit


def test_s3_invoked_decrypt_detail():
    event = parse_kms_api_call(load_event("decrypt_s3_pending_deletion"))

    detail = event.detail
    assert isinstance(event, KmsApiCallEvent) and event.event_id == "a1b2c3d4-0002-4e5f-8a9b-222222222222"
    assert (detail.event_name, detail.error_code) == ("Decrypt", "KMSInvalidStateException")
    assert detail.is_pending_deletion_error
    assert (detail.key_arn, detail.key_id) == (SAMPLE_KEY_ARN, SAMPLE_KEY_ID)
    assert detail.user_identity.invoked_by == "s3.amazonaws.com"
    assert detail.user_identity.identity_type == "AssumedRole"
    assert detail.user_identity.session_issuer_arn == "arn:aws:iam::111122223333:role/ReportReader"
    assert detail.s3_object_arn == "arn:aws:s3:::kmslab-reports-111122223333/2026/q1/report.csv"
    assert detail.source_ip == "s3.amazonaws.com" and detail.region == "us-east-1"
    assert detail.event_datetime is not None and detail.event_datetime.isoformat() == "2026-01-05T10:20:00+00:00"


def test_key_arn_falls_back_to_request_parameters_then_the_error_message():
    event = load_event("decrypt_user_pending_deletion")
    del event["detail"]["resources"]
    assert parse_kms_api_call(event).detail.key_arn == SAMPLE_KEY_ARN  # from "<arn> is pending deletion."
    event["detail"]["errorMessage"] = "Key is pending deletion."
    event["detail"]["requestParameters"]["keyId"] = SAMPLE_KEY_ARN
    assert parse_kms_api_call(event).detail.key_id == SAMPLE_KEY_ID
    event["detail"]["requestParameters"]["keyId"] = "alias/kmslab-data"
    assert parse_kms_api_call(event).detail.key_id == "alias/kmslab-data"


def test_a_service_principal_is_named_by_the_service():
    event = load_event("decrypt_user_pending_deletion")
    event["detail"]["userIdentity"] = {"type": "AWSService", "invokedBy": "dynamodb.amazonaws.com"}
    assert parse_kms_api_call(event).detail.user_identity.principal == "dynamodb.amazonaws.com"
    event["detail"]["userIdentity"] = None
    assert parse_kms_api_call(event).detail.user_identity.principal == "unknown"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e.pop("id"), "malformed_event"),
        (lambda e: e.update(source="aws.s3"), "not_kms_api_call"),
        (lambda e: e.update({"detail-type": "KMS Key Deletion"}), "not_kms_api_call"),
        (lambda e: e.update(detail=[1, 2]), "malformed_event"),
        (lambda e: e["detail"].update(eventSource="s3.amazonaws.com"), "malformed_event"),
        (lambda e: e["detail"].update(resources=[], errorMessage="x", requestParameters={}), "malformed_event"),
    ],
)
def test_malformed_events_are_refused_with_a_reason(mutate, reason):
    event = load_event("decrypt_user_pending_deletion")
    mutate(event)
    with pytest.raises(IgnoredEventError) as refused:
        parse_kms_api_call(event)
    assert refused.value.reason == reason
