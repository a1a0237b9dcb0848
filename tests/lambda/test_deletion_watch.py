"""deletion_watch: who scheduled the deletion or disabled the key, and was the key still in use?"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from deletion_watch import app
from deletion_watch.last_use import MAX_PAGES, find_last_use

from kmslab.kms.seams import ApiCall, Caller
from kmslab.trail import to_cloudtrail_record
from tests.events import load_event

SCHEDULED_AT = datetime(2026, 1, 4, 18, 58, 30, tzinfo=UTC)  # eventTime of schedule_key_deletion.json
DISABLED_AT = datetime(2026, 1, 4, 18, 50, 0, tzinfo=UTC)  # eventTime of disable_key.json

pytestmark = pytest.mark.functional

BOB = Caller(
    arn="arn:aws:sts::123456789012:assumed-role/ReportReader/nightly",
    account="123456789012",
    identity_type="AssumedRole",
    principal_id="AROAEXAMPLE:nightly",
    source_ip="203.0.113.9",
)


def record(
    operation: str, key_arn: str, when: datetime, *, caller: Caller = BOB, error: str | None = None
) -> dict[str, Any]:
    """A CloudTrail record as the trail recorder writes it for one KMS call."""
    return to_cloudtrail_record(
        ApiCall(
            event_time=when,
            operation=operation,
            region="us-east-1",
            account=key_arn.split(":")[4],
            caller=caller,
            request_id=f"req-{operation}-{when.timestamp()}",
            request={"KeyId": key_arn},
            response=None if error else {"KeyId": key_arn},
            error_code=error,
            error_message=f"{key_arn} is pending deletion." if error else None,
            key_arns=(key_arn,),
        )
    )


def test_schedule_key_deletion_of_a_live_key_says_when_it_was_last_used(world, pending_key, trail_records, context):
    now = SCHEDULED_AT
    trail_records += [
        record("Encrypt", pending_key.key_arn, now - timedelta(days=40)),
        record("Decrypt", pending_key.key_arn, now - timedelta(days=3, hours=1)),
        record("Decrypt", pending_key.key_arn, now - timedelta(days=1), error="KMSInvalidStateException"),
        record("DescribeKey", pending_key.key_arn, now - timedelta(hours=2)),
        record("ScheduleKeyDeletion", pending_key.key_arn, now - timedelta(hours=1)),
    ]
    event = load_event("schedule_key_deletion", key_arn=pending_key.key_arn)

    result = app.lambda_handler(event, context)

    assert result["status"] == "alerted"
    [note] = world.inbox.drain()
    assert note["Subject"] == "KMS key scheduled for deletion: alias/kmslab-data [LIVE KEY]"
    body = note["Message"]
    assert "was scheduled for deletion by arn:aws:iam::" in body and ":user/Alice." in body
    assert "Verdict:        LIVE KEY" in body
    assert "(7 days left, 7-day window)" in body
    assert "2026-01-01T17:58:30Z (3 days ago), Decrypt" in body
    assert "by            arn:aws:sts::123456789012:assumed-role/ReportReader/nightly" in body
    assert f"aws kms cancel-key-deletion --key-id {pending_key.key_id}" in body
    assert world.inbox.attributes(note)["event_type"] == "KeyDeletionScheduled"
    assert world.inbox.attributes(note)["operation"] == "ScheduleKeyDeletion"
    assert result["last_used"] is not None


def test_schedule_key_deletion_of_an_unused_key_says_so(world, pending_key, trail_records, context):
    now = SCHEDULED_AT
    trail_records += [
        record("Decrypt", pending_key.key_arn, now - timedelta(days=120)),  # outside the 90 days
        record("Decrypt", pending_key.key_arn, now - timedelta(days=2), error="KMSInvalidStateException"),
        record("GetKeyPolicy", pending_key.key_arn, now - timedelta(days=1)),
    ]

    app.lambda_handler(load_event("schedule_key_deletion", key_arn=pending_key.key_arn), context)

    [note] = world.inbox.drain()
    assert note["Subject"].endswith("[NO RECENT USE]")
    assert "Last use:       none since" in note["Message"]


def test_disable_key_alert_offers_enable_key(world, kms, trail_records, context):
    metadata = kms.create_key(Description="orders")["KeyMetadata"]
    kms.disable_key(KeyId=metadata["KeyId"])
    trail_records.append(record("GenerateDataKey", metadata["Arn"], DISABLED_AT - timedelta(minutes=30)))

    app.lambda_handler(load_event("disable_key", key_arn=metadata["Arn"]), context)

    [note] = world.inbox.drain()
    assert note["Subject"].startswith(f"KMS key disabled: {metadata['KeyId']} [LIVE KEY]")
    assert f"aws kms enable-key --key-id {metadata['KeyId']} --region us-east-1" in note["Message"]
    assert "cancel-key-deletion" not in note["Message"]
    assert "Deletion date" not in note["Message"]
    assert world.inbox.attributes(note)["event_type"] == "KeyDisabled"


def test_duplicate_delivery_sends_one_alert(world, pending_key, trail_records, context):
    event = load_event("schedule_key_deletion", key_arn=pending_key.key_arn)

    app.lambda_handler(event, context)
    app.lambda_handler(load_event("schedule_key_deletion", key_arn=pending_key.key_arn), context)

    assert len(world.inbox.drain()) == 1


@pytest.mark.parametrize(
    "name", ["decrypt_user_pending_deletion", "unrelated_s3_put_bucket_policy", "unrelated_decrypt_disabled_key"]
)
def test_other_events_are_ignored_with_one_log_line(world, trail_records, context, log_lines, name):
    assert app.lambda_handler(load_event(name), context)["status"] == "ignored"
    assert world.inbox.drain() == []
    assert [line["message"] for line in log_lines.refresh()] == ["event ignored"]


def test_a_refused_schedule_key_deletion_is_ignored(world, trail_records, context):
    event = load_event("schedule_key_deletion")
    event["detail"]["errorCode"] = "AccessDeniedException"
    event["detail"]["errorMessage"] = "User is not authorized to perform: kms:ScheduleKeyDeletion"

    assert app.lambda_handler(event, context) == {"status": "ignored", "reason": "call_failed"}


def test_an_sns_failure_raises(world, pending_key, trail_records, context, monkeypatch):
    monkeypatch.setenv("ALERT_TOPIC_ARN", world.topic_arn + "-gone")

    with pytest.raises(Exception, match="NotFound|does not exist"):
        app.lambda_handler(load_event("schedule_key_deletion", key_arn=pending_key.key_arn), context)


def test_a_failing_lookup_still_alerts_and_says_the_last_use_is_unknown(world, pending_key, context):
    import boto3
    from botocore.stub import Stubber
    from kms_events import clients

    cloudtrail = boto3.client("cloudtrail", region_name="us-east-1")
    stubber = Stubber(cloudtrail)
    stubber.add_client_error("lookup_events", "ThrottlingException", "Rate exceeded")
    stubber.activate()
    clients.override("cloudtrail", cloudtrail)

    app.lambda_handler(load_event("schedule_key_deletion", key_arn=pending_key.key_arn), context)

    [note] = world.inbox.drain()
    assert note["Subject"].endswith("[UNKNOWN]")
    assert "the search did not finish (LookupEvents:" in note["Message"] and "Rate exceeded" in note["Message"]


def test_find_last_use_pages_newest_first_and_skips_the_trigger(local_cloudtrail, world):
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    now = datetime.now(UTC)
    records = [record("Decrypt", key, now - timedelta(days=5))]
    records += [record("DescribeKey", key, now - timedelta(minutes=m)) for m in range(1, 120)]
    trigger = record("Encrypt", key, now - timedelta(seconds=5))
    records.append(trigger)

    search = find_last_use(local_cloudtrail(records), key, now, skip_event_id=trigger["eventID"])

    assert search.complete and search.last_use is not None
    assert search.last_use.operation == "Decrypt"
    assert (now - search.last_use.event_time).days == 5


def test_find_last_use_stops_after_the_page_limit(local_cloudtrail, world):
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    now = datetime.now(UTC)
    records = [record("DescribeKey", key, now - timedelta(seconds=s + 1)) for s in range(50 * MAX_PAGES + 1)]

    search = find_last_use(local_cloudtrail(records), key, now)

    assert search.last_use is None and not search.complete
    assert "stopped after" in search.error
