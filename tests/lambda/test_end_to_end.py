"""Offline end to end: local KMS calls -> CloudTrail records -> EventBridge events -> handlers -> SNS.

No event is built by hand: the local KMS answers real boto3 calls, the trail recorder turns each
into a CloudTrail record and an EventBridge event on its bus, and every KMS event on the bus is
delivered (after the calls, as EventBridge does, asynchronously) to both handlers. The handlers
pick their own events; LookupEvents is answered from the recorder's records.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from deletion_watch import app as watch_app
from key_use_alert import app as use_app
from kms_events import clients

from kmslab.trail import TrailRecorder
from tests.personas import ACCOUNT
from tests.personas import ALICE as ADMIN
from tests.personas import S3_FOR_APP as READER

pytestmark = pytest.mark.functional

KMS_EVENTS = {"source": ["aws.kms"], "detail-type": ["AWS API Call via CloudTrail"]}


@pytest.fixture
def recorder(local_kms, tmp_path) -> Any:
    trail = TrailRecorder(tmp_path / "trail", account=ACCOUNT, background=False)
    local_kms.add_sink(trail)
    yield trail
    local_kms.remove_sink(trail)
    trail.close()


def test_use_of_a_key_pending_deletion_reaches_the_responder(
    world, local_kms, recorder, local_cloudtrail, context, log_lines
):
    delivered: list[dict[str, Any]] = []
    recorder.subscribe(delivered.append, pattern=KMS_EVENTS)
    admin = local_kms.boto3_client("us-east-1", caller=ADMIN)
    reader = local_kms.boto3_client("us-east-1", caller=READER)
    clients.override("kms", local_kms.boto3_client("us-east-1"))
    s3_context = {"aws:s3:arn": "arn:aws:s3:::kmslab-reports/2026/q1/report.csv"}

    key = admin.create_key(Description="report data")["KeyMetadata"]
    admin.create_alias(AliasName="alias/kmslab-reports", TargetKeyId=key["KeyId"])
    blob = reader.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256", EncryptionContext=s3_context)
    local_kms.advance_time(timedelta(days=12))
    admin.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    local_kms.advance_time(timedelta(days=2))
    with pytest.raises(ClientError, match="is pending deletion"):
        reader.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext=s3_context)

    clients.override("cloudtrail", local_cloudtrail(recorder.records()))
    results = [
        handler(event, context) for event in delivered for handler in (use_app.lambda_handler, watch_app.lambda_handler)
    ]

    alerted = [r for r in results if r["status"] == "alerted"]
    assert len(alerted) == 2
    notes = {world.inbox.attributes(n)["event_type"]: n for n in world.inbox.drain()}
    assert set(notes) == {"KeyDeletionScheduled", "KeyPendingDeletionUse"}

    scheduled = notes["KeyDeletionScheduled"]
    assert scheduled["Subject"] == "KMS key scheduled for deletion: alias/kmslab-reports [LIVE KEY]"
    assert f"was scheduled for deletion by {ADMIN.arn}." in scheduled["Message"]
    assert "(12 days ago), GenerateDataKey" in scheduled["Message"]
    assert "(7 days left, 7-day window)" in scheduled["Message"]

    used = notes["KeyPendingDeletionUse"]
    assert used["Subject"] == "KMS key pending deletion used: alias/kmslab-reports (Decrypt)"
    body = used["Message"]
    assert key["Arn"] in body
    assert "Key state:      PendingDeletion" in body
    assert "(5 days left, 7-day window)" in body
    assert f"Principal:      {READER.arn} (AssumedRole)" in body
    assert "Invoked by:     s3.amazonaws.com" in body
    assert "S3 object:      arn:aws:s3:::kmslab-reports/2026/q1/report.csv" in body
    assert f"aws kms cancel-key-deletion --key-id {key['KeyId']} --region us-east-1" in body
    assert world.inbox.attributes(used)["principal"] == READER.arn

    ignored = [line for line in log_lines.refresh() if line["message"] == "event ignored"]
    assert len(ignored) == 2 * len(delivered) - 2  # every other event, once per handler


def test_cancel_on_use_end_to_end_leaves_the_key_disabled(world, local_kms, recorder, context, monkeypatch):
    monkeypatch.setenv("ON_USE", "cancel")
    delivered: list[dict[str, Any]] = []
    recorder.subscribe(delivered.append, pattern=KMS_EVENTS)
    admin = local_kms.boto3_client("us-east-1", caller=ADMIN)
    clients.override("kms", local_kms.boto3_client("us-east-1"))
    key = admin.create_key()["KeyMetadata"]
    admin.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=30)
    with pytest.raises(ClientError, match="is pending deletion"):
        admin.encrypt(KeyId=key["KeyId"], Plaintext=b"still needed")

    for event in delivered:
        use_app.lambda_handler(event, context)

    assert admin.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    [note] = world.inbox.drain()
    assert "CANCELLED" in note["Subject"] and "(Encrypt)" in note["Subject"]
    with pytest.raises(ClientError, match="is disabled"):
        admin.encrypt(KeyId=key["KeyId"], Plaintext=b"still needed")


def test_handlers_reach_the_local_endpoints_through_aws_endpoint_url_variables(
    world, recorder, context, monkeypatch, tmp_path
):
    """No client overrides: the handlers' own boto3 clients find the local KMS and CloudTrail by env."""
    from datetime import UTC, datetime

    import boto3

    from kmslab.kms import LocalKms
    from kmslab.kms.seams import FixedClock
    from kmslab.kms.server import KmsServer
    from kmslab.trail import TARGET_PREFIX, lookup_service

    engine = LocalKms(clock=FixedClock(datetime(2026, 3, 1, tzinfo=UTC)))
    engine.add_sink(recorder)
    server = KmsServer(engine, port=0).start()
    try:
        server.add_service(TARGET_PREFIX, lookup_service(recorder))
        monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", server.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", server.url)
        clients.reset()
        delivered: list[dict[str, Any]] = []
        recorder.subscribe(delivered.append, pattern=KMS_EVENTS)
        kms = boto3.client("kms", region_name="us-east-1", endpoint_url=server.url)
        key = kms.create_key()["KeyMetadata"]
        kms.create_alias(AliasName="alias/over-http", TargetKeyId=key["KeyId"])
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"in use")
        engine.advance_time(timedelta(days=1))
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=10)
        with pytest.raises(ClientError, match="is pending deletion"):
            kms.encrypt(KeyId=key["KeyId"], Plaintext=b"in use")

        for event in list(delivered):
            use_app.lambda_handler(event, context)
            watch_app.lambda_handler(event, context)
    finally:
        server.stop()

    notes = {world.inbox.attributes(n)["event_type"]: n for n in world.inbox.drain()}
    assert notes["KeyDeletionScheduled"]["Subject"] == "KMS key scheduled for deletion: alias/over-http [LIVE KEY]"
    assert "(1 day ago), Encrypt" in notes["KeyDeletionScheduled"]["Message"]
    assert notes["KeyPendingDeletionUse"]["Subject"] == "KMS key pending deletion used: alias/over-http (Encrypt)"
    assert "(10 days left, 10-day window)" in notes["KeyPendingDeletionUse"]["Message"]
