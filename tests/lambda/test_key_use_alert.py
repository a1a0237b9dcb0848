"""key_use_alert: one alert with the responder's facts per use of a key pending deletion."""

from __future__ import annotations

import pytest
from key_use_alert import app

from tests.events import load_event

pytestmark = pytest.mark.functional


def test_direct_decrypt_by_a_user_sends_one_alert_with_the_facts(world, pending_key, context, log_lines):
    event = load_event("decrypt_user_pending_deletion", key_arn=pending_key.key_arn)

    result = app.lambda_handler(event, context)

    assert result["status"] == "alerted"
    [note] = world.inbox.drain()
    subject, body = note["Subject"], note["Message"]
    assert len(subject) < 100
    assert "alias/kmslab-data" in subject and "Decrypt" in subject
    assert pending_key.key_arn in body
    assert "Aliases:        alias/kmslab-data" in body
    assert "Key state:      PendingDeletion" in body
    assert "Deletion date:  2026-01-11T18:58:30Z (6 days left, 7-day window)" in body
    account = pending_key.key_arn.split(":")[4]
    assert f"arn:aws:iam::{account}:user/Alice (IAMUser)" in body
    assert "Source IP:      198.51.100.23" in body
    assert "Event time:     2026-01-05T10:15:30Z" in body
    assert "department = finance" in body and "purpose = payroll" in body
    assert f"EventBridge ID: {event['id']}" in body
    assert f"aws kms cancel-key-deletion --key-id {pending_key.key_id} --region us-east-1" in body
    assert world.inbox.attributes(note) == {
        "key_id": pending_key.key_id,
        "operation": "Decrypt",
        "principal": f"arn:aws:iam::{account}:user/Alice",
        "region": "us-east-1",
        "event_type": "KeyPendingDeletionUse",
    }
    published = [line for line in log_lines.refresh() if line["message"] == "alert published"]
    assert len(published) == 1 and published[0]["event_id"] == event["id"]


def test_s3_invoked_decrypt_names_the_object_and_the_service(world, pending_key, context):
    event = load_event("decrypt_s3_pending_deletion", key_arn=pending_key.key_arn)

    app.lambda_handler(event, context)

    [note] = world.inbox.drain()
    body = note["Message"]
    assert "S3 object:      arn:aws:s3:::kmslab-reports-" in body and "/2026/q1/report.csv" in body
    assert "Invoked by:     s3.amazonaws.com, on behalf of the principal above" in body
    assert "assumed-role/ReportReader/report-job (AssumedRole)" in body
    assert "Role:           arn:aws:iam::" in body and ":role/ReportReader" in body
    assert world.inbox.attributes(note)["principal"].endswith(":assumed-role/ReportReader/report-job")


def test_generate_data_key_alert_names_the_operation(world, pending_key, context):
    event = load_event("generate_data_key_pending_deletion", key_arn=pending_key.key_arn)

    app.lambda_handler(event, context)

    [note] = world.inbox.drain()
    assert "(GenerateDataKey)" in note["Subject"]
    assert "tenant = acme" in note["Message"]
    assert world.inbox.attributes(note)["operation"] == "GenerateDataKey"


def test_the_message_matters_not_the_error_code(world, pending_key, context):
    event = load_event("decrypt_user_pending_deletion", key_arn=pending_key.key_arn)
    event["detail"]["errorCode"] = "DisabledException"

    assert app.lambda_handler(event, context)["status"] == "alerted"
    assert len(world.inbox.drain()) == 1


def test_duplicate_delivery_sends_one_alert(world, pending_key, context):
    event = load_event("decrypt_user_pending_deletion", key_arn=pending_key.key_arn)

    first = app.lambda_handler(event, context)
    second = app.lambda_handler(load_event("decrypt_user_pending_deletion", key_arn=pending_key.key_arn), context)

    assert first == second
    assert len(world.inbox.drain()) == 1
    other = load_event("decrypt_user_pending_deletion", key_arn=pending_key.key_arn, event_id="another-delivery-id")
    app.lambda_handler(other, context)
    assert len(world.inbox.drain()) == 1


@pytest.mark.parametrize(
    "event",
    [
        pytest.param("not an object", id="string"),
        pytest.param([], id="list"),
        pytest.param({}, id="empty"),
        pytest.param({"id": "x", "source": "aws.kms", "detail-type": "AWS API Call via CloudTrail"}, id="no-detail"),
        pytest.param(
            {"id": "x", "source": "aws.kms", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": 1}},
            id="detail-garbage",
        ),
        pytest.param(load_event("unrelated_decrypt_disabled_key"), id="other-error"),
        pytest.param(load_event("unrelated_s3_put_bucket_policy"), id="other-source"),
        pytest.param(load_event("schedule_key_deletion"), id="successful-call"),
    ],
)
def test_malformed_or_unrelated_events_log_one_line_and_send_nothing(world, context, log_lines, event):
    result = app.lambda_handler(event, context)

    assert result["status"] == "ignored"
    assert world.inbox.drain() == []
    lines = log_lines.refresh()
    assert len(lines) == 1
    assert lines[0]["message"] == "event ignored" and lines[0]["reason"]
    assert world.dynamodb.scan(TableName=world.table)["Count"] == 0


def test_an_event_missing_the_key_is_ignored(world, context, log_lines):
    event = load_event("decrypt_user_pending_deletion")
    event["detail"]["resources"] = []
    event["detail"]["errorMessage"] = "The key is pending deletion."

    assert app.lambda_handler(event, context) == {"status": "ignored", "reason": "malformed_event"}
    assert world.inbox.drain() == []


def test_an_sns_failure_raises_and_the_retry_alerts(world, pending_key, context, monkeypatch):
    event = load_event("decrypt_user_pending_deletion", key_arn=pending_key.key_arn)
    monkeypatch.setenv("ALERT_TOPIC_ARN", world.topic_arn + "-gone")

    with pytest.raises(Exception, match="NotFound|does not exist"):
        app.lambda_handler(event, context)

    monkeypatch.setenv("ALERT_TOPIC_ARN", world.topic_arn)
    assert app.lambda_handler(event, context)["status"] == "alerted"
    assert len(world.inbox.drain()) == 1


def test_a_key_that_cannot_be_described_still_alerts(world, kms, context):
    ghost = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    event = load_event("decrypt_user_pending_deletion", key_arn=ghost)

    app.lambda_handler(event, context)

    [note] = world.inbox.drain()
    assert "00000000-0000-0000-0000-000000000000" in note["Subject"]
    assert "Lookups that failed: DescribeKey: NotFoundException" in note["Message"]
    assert "Key state:      unknown" in note["Message"]


def test_cancel_option_cancels_the_deletion_and_says_so(world, pending_key, context, monkeypatch):
    monkeypatch.setenv("ON_USE", "cancel")
    event = load_event("decrypt_s3_pending_deletion", key_arn=pending_key.key_arn)

    result = app.lambda_handler(event, context)

    assert result["cancelled"] is True
    metadata = pending_key.kms.describe_key(KeyId=pending_key.key_id)["KeyMetadata"]
    assert metadata["KeyState"] == "Disabled"
    assert "DeletionDate" not in metadata
    [note] = world.inbox.drain()
    assert note["Subject"].startswith("KMS key deletion CANCELLED after use: ")
    assert "the deletion was CANCELLED" in note["Message"]
    assert "The key is now Disabled" in note["Message"]
    assert f"aws kms enable-key --key-id {pending_key.key_id}" in note["Message"]


def test_cancel_option_leaves_a_key_that_is_no_longer_pending_alone(world, pending_key, context, monkeypatch):
    pending_key.kms.cancel_key_deletion(KeyId=pending_key.key_id)
    monkeypatch.setenv("ON_USE", "cancel")

    result = app.lambda_handler(load_event("decrypt_user_pending_deletion", key_arn=pending_key.key_arn), context)

    assert result["cancelled"] is False
    [note] = world.inbox.drain()
    assert "not attempted: the key is Disabled" in note["Message"]


def test_without_the_cancel_option_the_key_stays_pending(world, pending_key, context):
    app.lambda_handler(load_event("decrypt_user_pending_deletion", key_arn=pending_key.key_arn), context)

    metadata = pending_key.kms.describe_key(KeyId=pending_key.key_id)["KeyMetadata"]
    assert metadata["KeyState"] == "PendingDeletion"


def test_an_unknown_on_use_value_acts_as_notify_and_says_so(world, pending_key, context, monkeypatch):
    monkeypatch.setenv("ON_USE", "cancle")

    result = app.lambda_handler(load_event("decrypt_user_pending_deletion", key_arn=pending_key.key_arn), context)

    assert result["cancelled"] is False
    assert pending_key.kms.describe_key(KeyId=pending_key.key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    [note] = world.inbox.drain()
    assert "ON_USE='cancle' is not recognised: acting as notify." in note["Message"]
