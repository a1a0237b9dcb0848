"""Chapter 9 of the lab (``workshop/09-deletion.md``): deleting the kit's data key safely, and the alerts.

Find the key's last use, disable it first, schedule the deletion, and watch the kit's two alert
paths react to a refused use: the ``key_use_alert`` function (EventBridge rule on the CloudTrail
event -> Lambda -> SNS -> the local mailbox) and AWS's metric filter and alarm on the trail's log
group. Then cancel the deletion and enable the key, as the alert tells you to.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from kmslab.lab._steps import Fact, LabContext, Step, show_refusal
from kmslab.lab.ch05_s3 import bucket

PENDING_DAYS = 7
INVOICE = b"Invoice 2026-0042: 1,250.00 EUR, due in 30 days."
OBJECT = "invoices/2026-0042.txt"
ADDRESS = "security@example.com"
#: how long the lab waits for the alert e-mail (the function's first run unpacks its layer)
MAIL_WAIT_SECONDS = 60.0
#: the calls that use a key (describing or listing it is not a use)
CRYPTO_OPERATIONS = frozenset(
    {"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateDataKeyPair"}
)
#: the metric of AWS's recipe the kit's alarm watches (``stacks.constructs.alarms.METRIC_NAME``)
METRIC_NAME = "KMSKeyPendingDeletionErrorCount"


def _data_key(ctx: LabContext) -> str:
    return str(ctx.kms.describe_key(KeyId="alias/kmslab/data")["KeyMetadata"]["Arn"])


def mailbox(ctx: LabContext) -> Any:
    """The local mailbox where SNS e-mail subscriptions deliver (``kmslab local mail``)."""
    from kmslab.cloud.alerts.mail import Mailbox

    return Mailbox(ctx.lab.data_dir / "mail")


def last_use(ctx: LabContext) -> Sequence[Fact]:
    """Alice stores an invoice; the trail shows when the data key was last used, and by whom."""
    s3 = ctx.client("alice", service="s3")
    arn = _data_key(ctx)
    # Without a Bucket Key S3 calls KMS with the object's ARN as encryption context, so the CloudTrail
    # record, and the alert built from it, name the object (with one, they name only the bucket).
    s3.put_object(
        Bucket=bucket(ctx), Key=OBJECT, Body=INVOICE, ServerSideEncryption="aws:kms", SSEKMSKeyId=arn,
        BucketKeyEnabled=False,
    )  # fmt: skip
    if ctx.recorder is not None:
        ctx.recorder.flush()
    events = ctx.client("admin", service="cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}], MaxResults=50
    )["Events"]
    uses = [e for e in events if e["EventName"] in CRYPTO_OPERATIONS]
    ctx.expect(bool(uses), "CloudTrail has cryptographic operations on the data key")
    newest = uses[0]
    ctx.expect(newest["EventName"] == "GenerateDataKey", f"the newest use is S3's GenerateDataKey, got {newest}")
    ctx.state["object_arn"] = f"arn:aws:s3:::{bucket(ctx)}/{OBJECT}"
    return [
        ("PutObject (no Bucket Key)", f"s3://{bucket(ctx)}/{OBJECT}"),
        ("last use (LookupEvents, newest first)", f"{newest['EventName']} at {newest['EventTime'].isoformat()}"),
        ("by", _who(newest)),
    ]


def _who(event: dict[str, Any]) -> str:
    try:
        identity = json.loads(event.get("CloudTrailEvent") or "{}").get("userIdentity", {})
    except ValueError:
        identity = {}
    via = f" via {identity['invokedBy']}" if identity.get("invokedBy") else ""
    return f"{identity.get('arn') or event.get('Username') or '-'}{via}"


def subscribe(ctx: LabContext) -> Sequence[Fact]:
    """Subscribe the security team's address to the kit's alert topic."""
    sns = ctx.client(service="sns")
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"] if ":KmslabAlerting-AlertTopic" in t["TopicArn"]]
    ctx.expect(len(topics) == 1, f"the kit has one alert topic, got {topics}")
    sns.subscribe(TopicArn=topics[0], Protocol="email", Endpoint=ADDRESS)
    subs = sns.list_subscriptions_by_topic(TopicArn=topics[0])["Subscriptions"]
    ctx.expect(any(s["Endpoint"] == ADDRESS for s in subs), "the topic lists the e-mail subscription")
    ctx.state["alert_topic"] = topics[0]
    return [("alert topic", topics[0]), ("e-mail subscription", ADDRESS)]


def disable_first(ctx: LabContext) -> Sequence[Fact]:
    """Disable the key first and see what breaks, then schedule its deletion."""
    arn = _data_key(ctx)
    s3 = ctx.client("alice", service="s3")
    ctx.kms.disable_key(KeyId=arn)
    broken = ctx.expect_error(lambda: s3.get_object(Bucket=bucket(ctx), Key=OBJECT), "KMS.DisabledException")
    before = ctx.control.now()
    out = ctx.kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=PENDING_DAYS)
    ctx.expect(out["KeyState"] == "PendingDeletion", f"the key is PendingDeletion, got {out['KeyState']}")
    wait = out["DeletionDate"] - before
    ctx.expect(
        timedelta(days=PENDING_DAYS - 1) < wait <= timedelta(days=PENDING_DAYS, minutes=5),
        f"DeletionDate is {PENDING_DAYS} days ahead, got {wait}",
    )
    ctx.state["mail_before"] = {m.id for m in mailbox(ctx).list()}
    return [
        ("DisableKey, then GetObject", show_refusal(broken)),
        ("ScheduleKeyDeletion", f"KeyState {out['KeyState']}, DeletionDate {out['DeletionDate'].isoformat()}"),
    ]


def refused_use_alerts(ctx: LabContext) -> Sequence[Fact]:
    """Alice reads the invoice during the waiting period: refused, and the alert e-mail names the object."""
    arn = _data_key(ctx)
    s3 = ctx.client("alice", service="s3")
    refused = ctx.expect_error(
        lambda: s3.get_object(Bucket=bucket(ctx), Key=OBJECT),
        "KMS.KMSInvalidStateException",
        message_contains="is pending deletion",
    )
    if ctx.recorder is not None:
        ctx.recorder.flush()
    seen: set[str] = ctx.need("mail_before")
    deadline = time.monotonic() + MAIL_WAIT_SECONDS
    alerts: list[Any] = []
    while time.monotonic() < deadline and not alerts:
        alerts = [m for m in mailbox(ctx).list() if m.id not in seen and "pending deletion used" in m.subject]
        if not alerts:
            time.sleep(0.25)
    ctx.expect(bool(alerts), f"the key_use_alert e-mail reached {ADDRESS} within {MAIL_WAIT_SECONDS:.0f} s")
    mail = alerts[0]
    for needed in (arn, ctx.need("object_arn"), "cancel-key-deletion", "Decrypt"):
        ctx.expect(needed in mail.body, f"the alert names {needed}")
    ctx.state["alert_mail"] = mail.id
    return [
        ("Alice GetObject", show_refusal(refused)),
        ("e-mail", f"to {mail.to}: {mail.subject}"),
        ("it names the object", ctx.need("object_arn")),
    ]


def alarm(ctx: LabContext) -> Sequence[Fact]:
    """AWS's metric filter matches the refused call's CloudTrail record; the alarm watches the trail's log group."""
    logs = ctx.client(service="logs")
    group = ctx.lab.resource("KmslabTrail", "TrailLogGroup")
    filters = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    mine = [f for f in filters if f["metricTransformations"][0]["metricName"] == METRIC_NAME]
    ctx.expect(len(mine) == 1, f"the trail's log group has the pending-deletion metric filter, got {filters}")
    records = [
        r
        for r in (ctx.recorder.records() if ctx.recorder is not None else [])
        if str(r.get("errorMessage", "")).endswith("is pending deletion.")
    ]
    ctx.expect(bool(records), "the trail recorded the refused call")
    # The local cloud does not serve TestMetricFilter: match with the pattern engine its log groups use
    # (the CloudWatch Logs filter pattern syntax for JSON), on the record as the trail delivers it.
    from kmslab.cloud.logs.patterns import compile_pattern

    pattern = compile_pattern(mine[0]["filterPattern"])
    matched = [r for r in records if pattern.matches(json.dumps(r))]
    ctx.expect(len(matched) == len(records), f"the filter matches each refused call's record, {len(matched)}")
    ok = ctx.recorder.records()[0] if ctx.recorder is not None else {}
    ctx.expect(not pattern.matches(json.dumps(ok)) or "pending deletion" in json.dumps(ok), "it ignores other calls")
    [described] = [
        a
        for a in ctx.client(service="cloudwatch").describe_alarms()["MetricAlarms"]
        if a.get("MetricName") == METRIC_NAME
    ]
    ctx.expect(ctx.need("alert_topic") in described["AlarmActions"], "the alarm notifies the alert topic")
    # The trail's records reach its log group, the filter's datapoint puts the alarm in ALARM, and the
    # alarm's action publishes to the topic: wait for that message (the state itself falls back to OK
    # once the 5-minute period ends without a refused call).
    seen: set[str] = ctx.need("mail_before")
    subject = f'ALARM: "{described["AlarmName"]}"'
    deadline = time.monotonic() + MAIL_WAIT_SECONDS
    alarmed: list[Any] = []
    while time.monotonic() < deadline and not alarmed:
        alarmed = [m for m in mailbox(ctx).list() if m.id not in seen and m.subject.startswith(subject)]
        if not alarmed:
            time.sleep(0.25)
    ctx.expect(bool(alarmed), f"the alarm's {subject} message reached {ADDRESS} within {MAIL_WAIT_SECONDS:.0f} s")
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    return [
        ("metric filter", mine[0]["filterPattern"]),
        ("the filter on the refused records", f"{len(matched)} of {len(records)} match"),
        (f"log group {group}", f"{len(streams)} stream(s) of trail records"),
        ("alarm", f"{described['AlarmName']} went to ALARM and notified the alert topic"),
        ("e-mail", f"to {alarmed[0].to}: {alarmed[0].subject}"),
    ]


def cancel_and_enable(ctx: LabContext) -> Sequence[Fact]:
    """Cancel the deletion (the key comes back Disabled), then enable it; the invoice reads again."""
    arn = _data_key(ctx)
    s3 = ctx.client("alice", service="s3")
    ctx.kms.cancel_key_deletion(KeyId=arn)
    state = ctx.kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"]
    ctx.expect(state == "Disabled", f"a cancelled deletion leaves the key Disabled, got {state}")
    ctx.kms.enable_key(KeyId=arn)
    body = s3.get_object(Bucket=bucket(ctx), Key=OBJECT)["Body"].read()
    ctx.expect(body == INVOICE, "after EnableKey the invoice reads again")
    return [("CancelKeyDeletion", f"KeyState {state}"), ("EnableKey, GetObject", "the invoice reads again")]


STEPS: tuple[Step, ...] = (
    Step(
        "Find when the data key was last used",
        "Before deleting a key, ask CloudTrail who used it last; an object written without a Bucket Key "
        "makes S3 name the object in its KMS calls.",
        last_use,
    ),
    Step(
        "Subscribe the security team to the alert topic",
        "The kit's alerts go to one SNS topic; an e-mail subscription delivers them (here: the local mailbox).",
        subscribe,
    ),
    Step(
        f"Disable the key first, then schedule its deletion in {PENDING_DAYS} days",
        "Disabling shows what breaks while it is still reversible; ScheduleKeyDeletion only starts a waiting period.",
        disable_first,
    ),
    Step(
        "Read the invoice while the key is pending deletion",
        "KMS refuses (KMSInvalidStateException); the kit's key_use_alert function mails an alert naming the "
        "key, the object and how to cancel.",
        refused_use_alerts,
    ),
    Step(
        "Check the metric-filter alarm on the trail's log group",
        "AWS's recipe: a metric filter counts refused calls on keys pending deletion; its alarm notifies the topic.",
        alarm,
    ),
    Step(
        "Cancel the deletion and enable the key",
        "CancelKeyDeletion leaves the key Disabled; EnableKey brings it, and every object under it, back.",
        cancel_and_enable,
    ),
)
