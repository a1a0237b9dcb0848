"""KMS service events as the clock passes: DeleteKey, RotateKey, DeleteExpiredKeyMaterial, and EventBridge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kmslab.kms import FixedClock, LocalKms
from kmslab.kms.service_events import ServiceEvent
from kmslab.trail.events import EventBus, service_event_record, service_eventbridge_event
from tests.kms.conftest import START
from tests.kms.helpers import import_material, key_arn


def _collect(engine: LocalKms) -> list[ServiceEvent]:
    events: list[ServiceEvent] = []
    engine.add_service_sink(events.append)
    return events


def test_end_of_waiting_period_is_a_delete_key_service_event(kms_engine: LocalKms, kms: Any, clock: FixedClock) -> None:
    events = _collect(kms_engine)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert events == []
    clock.advance(timedelta(days=8))
    kms.list_keys()  # any call lets the engine catch up with its clock
    assert [e.event_name for e in events] == ["DeleteKey"]
    record = service_event_record(events[0])
    assert record["eventType"] == "AwsServiceEvent" and record["eventName"] == "DeleteKey"
    assert record["userIdentity"] == {"accountId": kms_engine.account, "invokedBy": "AWS Internal"}
    assert record["eventTime"] == (START + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert record["responseElements"] == {"keyId": key_arn(key_id)}  # the ARN quirk of DeleteKey records
    assert record["requestParameters"] is None and record["readOnly"] is False
    assert record["resources"] == [{"accountId": kms_engine.account, "type": "AWS::KMS::Key", "ARN": key_arn(key_id)}]
    assert record["serviceEventDetails"] == {"keyId": key_id}
    bridge = service_eventbridge_event(events[0])
    assert (bridge["source"], bridge["detail-type"]) == ("aws.kms", "KMS CMK Deletion")
    assert bridge["resources"] == [key_arn(key_id)] and bridge["detail"]["key-id"] == key_id
    kms.list_keys()
    assert len(events) == 1  # once


def test_automatic_rotation_is_a_rotate_key_service_event(kms_engine: LocalKms, kms: Any, clock: FixedClock) -> None:
    events = _collect(kms_engine)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    before = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    clock.advance(timedelta(days=91))
    after = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert after != before
    assert [(e.event_name, e.rotation_type) for e in events] == [("RotateKey", "AUTOMATIC")]
    record = service_event_record(events[0])
    assert record["serviceEventDetails"] == {"rotationType": "AUTOMATIC", "keyId": key_id, "keyMaterialId": after}
    assert record["responseElements"] is None
    assert record["eventTime"] == (START + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    bus, seen = EventBus(), []
    bus.subscribe(seen.append, pattern={"source": ["aws.kms"], "detail-type": ["KMS CMK Rotation"]})
    assert bus.publish(service_eventbridge_event(events[0])) == 1
    assert seen[0]["detail"] == {
        "key-id": key_id,
        "key-origin": "AWS_KMS",
        "rotation-type": "AUTOMATIC",
        "previous-key-material-id": before,
        "current-key-material-id": after,
    }


def test_on_demand_rotation_is_logged_as_a_rotate_key_service_event_too(kms_engine: LocalKms, kms: Any) -> None:
    events = _collect(kms_engine)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.rotate_key_on_demand(KeyId=key_id)
    assert [(e.event_name, e.rotation_type) for e in events] == [("RotateKey", "ON_DEMAND")]
    assert service_event_record(events[0])["serviceEventDetails"]["rotationType"] == "ON_DEMAND"


def test_expired_material_is_a_delete_expired_key_material_service_event(
    kms_engine: LocalKms, kms: Any, clock: FixedClock
) -> None:
    events = _collect(kms_engine)
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    import_material(kms, key_id, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=START + timedelta(days=2))
    material_id = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    clock.advance(timedelta(days=3))
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    assert [e.event_name for e in events] == ["DeleteExpiredKeyMaterial"]
    record = service_event_record(events[0])
    assert record["serviceEventDetails"] == {"keyId": key_id, "keyMaterialId": material_id}
    bridge = service_eventbridge_event(events[0])
    assert bridge["detail-type"] == "KMS Imported Key Material Expiration"
    assert bridge["detail"] == {"key-id": key_id, "key-origin": "EXTERNAL", "key-material-id": material_id}


def test_no_service_sink_no_events_kept(kms_engine: LocalKms, kms: Any, clock: FixedClock) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    clock.advance(timedelta(days=8))
    kms.list_keys()
    assert kms_engine._service.pending == 0
    events = _collect(kms_engine)
    kms.rotate_key_on_demand(KeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    assert len(events) == 1


def test_attached_to_a_trail_recorder_the_events_land_in_the_trail_and_on_the_bus(
    kms_engine: LocalKms, kms: Any, clock: FixedClock, tmp_path: Any
) -> None:
    from kmslab.trail import TrailRecorder
    from kmslab.trail.events import attach_service_events

    recorder = TrailRecorder(tmp_path / "trail", account=kms_engine.account, background=False)
    kms_engine.add_sink(recorder)
    attach_service_events(kms_engine, recorder)
    deletions: list[dict[str, Any]] = []
    via_trail: list[dict[str, Any]] = []
    recorder.bus.subscribe(deletions.append, pattern={"source": ["aws.kms"], "detail-type": ["KMS CMK Deletion"]})
    recorder.bus.subscribe(via_trail.append, pattern={"detail-type": ["AWS Service Event via CloudTrail"]})
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    clock.advance(timedelta(days=8))
    kms.list_keys()
    records = [(r["eventName"], r["eventType"]) for r in recorder.records()]
    written = recorder.flush()
    recorder.close()
    assert [e["detail"]["key-id"] for e in deletions] == [key_id]
    assert [e["detail"]["eventName"] for e in via_trail] == ["DeleteKey"]
    assert ("DeleteKey", "AwsServiceEvent") in records and ("ScheduleKeyDeletion", "AwsApiCall") in records
    assert written  # the service event is written to the trail files with the API calls
