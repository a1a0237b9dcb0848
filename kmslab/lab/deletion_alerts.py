"""Chapter 7 of the lab: deleting keys safely, and the alert on use of a key pending deletion.

The refused call becomes a CloudTrail record, the recorder publishes it as the EventBridge event the
alerting stack's rule matches, and the kit's ``key_use_alert`` Lambda handler turns it into an SNS
message (moto), read back from an SQS subscription.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from kmslab.lab._alerting import AlertingWorld, invoke_key_use_alert
from kmslab.lab._steps import Fact, LabContext, LabError, Step, show_refusal
from kmslab.lab.key_access import key_policy
from kmslab.trail.patterns import KEY_USE_PENDING_DELETION

PENDING_DAYS = 7
MESSAGE = b"invoice 2026-0042"
CONTEXT = {"app": "billing", "invoice": "2026-0042"}


def schedule(ctx: LabContext) -> Sequence[Fact]:
    """Create a key Alice's application uses, listen for refused calls, schedule the deletion."""
    if ctx.recorder is None:
        raise LabError("this chapter needs the endpoint's CloudTrail recorder")
    meta = ctx.kms.create_key(Description="kmslab lab: billing data", Policy=json.dumps(key_policy(ctx)))["KeyMetadata"]
    alias = f"alias/kmslab-lab-billing-{secrets.token_hex(3)}"
    ctx.kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    blob = ctx.client("alice").encrypt(KeyId=alias, Plaintext=MESSAGE, EncryptionContext=CONTEXT)["CiphertextBlob"]
    events: list[dict[str, Any]] = []

    # the alerting stack's own rule pattern, on the local KMS's event bus
    ctx.closers.append(ctx.recorder.subscribe(events.append, pattern=KEY_USE_PENDING_DELETION))
    before = ctx.control.now()
    out = ctx.kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=PENDING_DAYS)
    ctx.expect(out["KeyState"] == "PendingDeletion", f"the key is PendingDeletion, got {out['KeyState']}")
    wait = out["DeletionDate"] - before
    ctx.expect(
        timedelta(days=PENDING_DAYS - 1) < wait <= timedelta(days=PENDING_DAYS, minutes=5),
        f"DeletionDate is {PENDING_DAYS} days ahead, got {wait}",
    )
    ctx.state.update(deletion_key_arn=meta["Arn"], deletion_alias=alias, deletion_blob=blob, deletion_events=events)
    return [
        ("KeyId / alias", f"{meta['KeyId']} / {alias}"),
        ("Alice Encrypt", "her billing application uses the key"),
        ("ScheduleKeyDeletion", f"KeyState {out['KeyState']}, DeletionDate {out['DeletionDate'].isoformat()}"),
        ("listening", "EventBridge events for KMS calls refused with '... is pending deletion.'"),
    ]


def refused_use(ctx: LabContext) -> Sequence[Fact]:
    """Alice's application decrypts: refused; the EventBridge event arrives."""
    arn = ctx.need("deletion_key_arn")
    refused = ctx.expect_error(
        lambda: ctx.client("alice").decrypt(CiphertextBlob=ctx.need("deletion_blob"), EncryptionContext=CONTEXT),
        "KMSInvalidStateException",
        message_contains=f"{arn} is pending deletion.",
    )
    events: list[dict[str, Any]] = ctx.need("deletion_events")
    ctx.expect(len(events) == 1, f"exactly one EventBridge event for the refused call, got {len(events)}")
    event = events[0]
    detail = event["detail"]
    resources = [r.get("ARN") for r in detail.get("resources") or []]
    ctx.expect(event["source"] == "aws.kms", "the event comes from aws.kms")
    ctx.expect(event["detail-type"] == "AWS API Call via CloudTrail", "it is a CloudTrail API call event")
    ctx.expect(detail["eventName"] == "Decrypt", f"the operation is Decrypt, got {detail['eventName']}")
    ctx.expect(detail["userIdentity"]["arn"] == ctx.arn_of("alice"), "the caller is Alice")
    ctx.expect(resources == [arn], f"the record names the key in resources, got {resources}")
    ctx.expect(detail["requestParameters"].get("encryptionContext") == CONTEXT, "the record has the context")
    ctx.state["pending_refusal"] = {"operation": "Decrypt", "principal": ctx.arn_of("alice"), "key_arn": arn}
    return [
        ("Alice Decrypt", show_refusal(refused)),
        ("EventBridge event", f"{event['source']} / {event['detail-type']} / id {event['id']}"),
        ("detail.eventName", detail["eventName"]),
        ("detail.errorCode", detail["errorCode"]),
        ("detail.errorMessage", detail["errorMessage"]),
        ("detail.userIdentity.arn", detail["userIdentity"]["arn"]),
        ("detail.resources[0].ARN", resources[0]),
        ("detail.requestParameters.encryptionContext", json.dumps(detail["requestParameters"]["encryptionContext"])),
    ]


def alert(ctx: LabContext) -> Sequence[Fact]:
    """Feed the event to the key_use_alert handler; read the SNS message from the SQS subscriber."""
    event = ctx.need("deletion_events")[0]
    arn = ctx.need("deletion_key_arn")
    world = AlertingWorld.start()
    ctx.closers.append(world.stop)
    answer, logs = invoke_key_use_alert(event, world, ctx.kms)
    ctx.expect(answer.get("status") == "alerted", f"the handler alerted, got {answer}")
    received = world.receive()
    ctx.expect(len(received) == 1, f"one SNS message reached the subscriber, got {len(received)}")
    subject, body = str(received[0].get("Subject", "")), str(received[0].get("Message", ""))
    for needed in (arn, ctx.need("deletion_alias"), ctx.arn_of("alice"), "Decrypt", "cancel-key-deletion"):
        ctx.expect(needed in body, f"the alert names {needed}")
    ctx.expect("invoice = 2026-0042" in body, "the alert shows the encryption context")
    again, _ = invoke_key_use_alert(event, world, ctx.kms)
    ctx.expect(again == answer, f"a redelivered event returns the stored result, got {again}")
    ctx.expect(world.receive() == [], "a redelivered event publishes nothing (idempotent on the event ID)")
    return [
        ("handler", f"key_use_alert.app.lambda_handler -> {answer['status']}, log: {'; '.join(logs)}"),
        ("SNS Subject", subject),
        ("SNS Message", "(below)"),
        *[("", f"| {line}") for line in body.splitlines()],
        ("same event again", "no second message (Powertools idempotency on the event ID)"),
    ]


def cancel_and_enable(ctx: LabContext) -> Sequence[Fact]:
    """Cancel the deletion (the key comes back Disabled), then enable it."""
    arn = ctx.need("deletion_key_arn")
    ctx.kms.cancel_key_deletion(KeyId=arn)
    state = ctx.kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"]
    ctx.expect(state == "Disabled", f"a cancelled deletion leaves the key Disabled, got {state}")
    refused = ctx.expect_error(
        lambda: ctx.client("alice").decrypt(CiphertextBlob=ctx.need("deletion_blob"), EncryptionContext=CONTEXT),
        "DisabledException",
        message_contains=f"{arn} is disabled.",
    )
    ctx.kms.enable_key(KeyId=arn)
    out = ctx.client("alice").decrypt(CiphertextBlob=ctx.need("deletion_blob"), EncryptionContext=CONTEXT)
    ctx.expect(out["Plaintext"] == MESSAGE, "after EnableKey Alice's application decrypts again")
    return [
        ("CancelKeyDeletion", f"KeyState {state}"),
        ("Alice Decrypt", show_refusal(refused)),
        ("EnableKey, Alice Decrypt", "Plaintext matches"),
    ]


STEPS: tuple[Step, ...] = (
    Step(
        f"Schedule deletion of a key in use, {PENDING_DAYS} days out",
        "ScheduleKeyDeletion only starts a waiting period: the key is PendingDeletion until the DeletionDate.",
        schedule,
    ),
    Step(
        "Alice's application decrypts during the waiting period",
        "KMS refuses with KMSInvalidStateException '<arn> is pending deletion.'; CloudTrail records it and "
        "EventBridge delivers the event the alert rule matches.",
        refused_use,
    ),
    Step(
        "The key_use_alert function publishes the alert",
        "The kit's handler, fed the real event, publishes one SNS message naming the key, its alias, "
        "the caller, the context and how to cancel; a redelivery publishes nothing.",
        alert,
    ),
    Step(
        "Cancel the deletion and enable the key",
        "CancelKeyDeletion leaves the key Disabled (still refusing); EnableKey brings it back.",
        cancel_and_enable,
    ),
)
