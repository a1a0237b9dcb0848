"""Chapter 8 of the lab: audit what the lab did, from the CloudTrail log files the endpoint wrote.

The queries are the kit's Athena named queries, run over the local log files through DuckDB
(:mod:`kmslab.audit`). Each check compares rows with what earlier chapters did and recorded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from kmslab.audit import AuditEngine, QueryResult, get_query
from kmslab.lab._steps import Fact, LabContext, LabError, Step, show_table


def _records(ctx: LabContext) -> list[dict[str, Any]]:
    if ctx.recorder is None or ctx.trail_dir is None:
        raise LabError("this chapter needs the endpoint's CloudTrail recorder")
    return ctx.recorder.records()


def _window(ctx: LabContext) -> tuple[datetime, int]:
    """Return the endpoint's now and a window in days that covers every record of this run."""
    now = ctx.control.now()
    first = min(datetime.fromisoformat(str(r["eventTime"]).replace("Z", "+00:00")) for r in _records(ctx))
    return now, (now.date() - first.date()).days + 1


def _run(ctx: LabContext, name: str) -> QueryResult:
    now, days = _window(ctx)
    if ctx.trail_dir is None:
        raise LabError("this chapter needs the endpoint's trail directory")
    with AuditEngine(ctx.trail_dir, today=now.date()) as engine:
        return engine.run(get_query(name), days=days)


def flush(ctx: LabContext) -> Sequence[Fact]:
    """Write every buffered record to log files; LookupEvents answers from the same records."""
    records = _records(ctx)
    files = ctx.recorder.flush() if ctx.recorder is not None else []
    all_files = sorted((ctx.trail_dir or ctx.work_dir).rglob("*.json.gz"))
    ctx.expect(len(all_files) > 0, "the recorder wrote CloudTrail log files")
    regions = sorted({r["awsRegion"] for r in records})
    now, days = _window(ctx)
    start = now - timedelta(days=days)
    trail = ctx.client("root", service="cloudtrail")
    found = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ScheduleKeyDeletion"}],
        StartTime=start,
        EndTime=now + timedelta(minutes=5),
    )["Events"]
    expected = sum(1 for r in records if r["eventName"] == "ScheduleKeyDeletion" and r["awsRegion"] == "us-east-1")
    ctx.expect(
        len(found) == expected, f"LookupEvents finds the {expected} ScheduleKeyDeletion call(s), got {len(found)}"
    )
    sample = all_files[0].relative_to(ctx.trail_dir or ctx.work_dir)
    return [
        ("records", f"{len(records)} CloudTrail records, regions {', '.join(regions)}, over {days} day(s)"),
        ("log files", f"{len(all_files)} (this flush wrote {len(files)})"),
        ("layout", str(sample)),
        ("LookupEvents EventName=ScheduleKeyDeletion", f"{len(found)} event(s)"),
    ]


def calls_by_operation(ctx: LabContext) -> Sequence[Fact]:
    """kms_calls_by_operation counts exactly what the endpoint recorded."""
    result = _run(ctx, "kms_calls_by_operation")
    rows = result.as_dicts()
    kms = [r for r in _records(ctx) if r.get("eventSource") == "kms.amazonaws.com"]
    calls = Counter(r["eventName"] for r in kms)
    failed = Counter(r["eventName"] for r in kms if r.get("errorCode"))
    got = {row["operation"]: (int(row["calls"]), int(row["failed"])) for row in rows}
    want = {operation: (count, failed[operation]) for operation, count in calls.items()}
    ctx.expect(got == want, f"the query counts what the lab did: expected {want}, got {got}")
    summary = f"{len(rows)} operations, {sum(calls.values())} calls, same counts as the endpoint recorded"
    return [("kms_calls_by_operation", summary), *show_table(result.columns, result.rows)]


def access_denied(ctx: LabContext) -> Sequence[Fact]:
    """access_denied_calls has Bob's refused Encrypt."""
    result = _run(ctx, "access_denied_calls")
    denied = ctx.need("bob_denied")
    rows = [
        r
        for r in result.as_dicts()
        if r["principal"] == denied["principal"] and r["operation"] == denied["operation"]
        if r["key_arn"] == denied["key_arn"]
    ]
    ctx.expect(len(rows) >= 1, f"Bob's refused {denied['operation']} on {denied['key_arn']} is there")
    ctx.expect(
        all("is not authorized to perform: kms:Encrypt" in str(r["errormessage"]) for r in rows),
        "with AWS's AccessDeniedException message",
    )
    columns = ("operation", "principal", "identity_type", "key_arn")
    return show_table(columns, [tuple(r[c] for c in columns) for r in result.as_dicts()])


def pending_deletion_use(ctx: LabContext) -> Sequence[Fact]:
    """pending_deletion_key_use has Alice's refused Decrypt, with the principal."""
    result = _run(ctx, "pending_deletion_key_use")
    refusal = ctx.need("pending_refusal")
    rows = result.as_dicts()
    mine = [r for r in rows if r["key_arn"] == refusal["key_arn"] and r["operation"] == refusal["operation"]]
    ctx.expect(len(mine) == 1, f"one refused {refusal['operation']} of the key pending deletion, got {len(mine)}")
    ctx.expect(mine[0]["principal"] == refusal["principal"], f"by {refusal['principal']}, got {mine[0]['principal']}")
    ctx.expect(str(mine[0]["errormessage"]).endswith("is pending deletion."), "with KMS's error message")
    columns = ("operation", "principal", "key_arn", "sourceipaddress")
    return show_table(columns, [tuple(r[c] for c in columns) for r in rows])


def lifecycle(ctx: LabContext) -> Sequence[Fact]:
    """key_lifecycle_events has the ScheduleKeyDeletion, with its waiting period."""
    result = _run(ctx, "key_lifecycle_events")
    arn = ctx.need("pending_refusal")["key_arn"]
    rows = result.as_dicts()
    mine = [r for r in rows if r["key_arn"] == arn]
    scheduled = [r for r in mine if r["operation"] == "ScheduleKeyDeletion"]
    ctx.expect(len(scheduled) == 1, f"the ScheduleKeyDeletion of {arn} is there, got {len(scheduled)}")
    ctx.expect(str(scheduled[0]["pending_window_days"]) == "7", "with its 7-day waiting period")
    ctx.expect(scheduled[0]["principal"] == ctx.arn_of("root"), "made by the root user")
    operations = [r["operation"] for r in mine]
    for needed in ("CreateKey", "CreateAlias", "ScheduleKeyDeletion", "CancelKeyDeletion", "EnableKey"):
        ctx.expect(needed in operations, f"the key's history has {needed}, got {operations}")
    mine = _newest_first(ctx, mine)
    order = [r["operation"] for r in mine]
    ctx.expect(
        order.index("EnableKey") < order.index("CancelKeyDeletion") < order.index("ScheduleKeyDeletion")
        and order[-1] == "CreateKey",
        f"newest first: EnableKey before CancelKeyDeletion before ScheduleKeyDeletion, CreateKey last; got {order}",
    )
    columns = ("eventtime", "operation", "principal", "pending_window_days")
    return [
        ("lifecycle events", f"{len(rows)} in all; the history of chapter 7's key, newest first:"),
        *show_table(columns, [tuple(r[c] for c in columns) for r in mine]),
    ]


def _newest_first(ctx: LabContext, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order rows newest first, breaking ties within one second by the order the calls happened.

    CloudTrail's ``eventTime`` has whole seconds, so ``ORDER BY eventtime DESC`` leaves calls made in
    the same second in no particular order (on Athena too). The recorder keeps the records in the
    order the endpoint answered them, which settles the tie.
    """
    position: dict[tuple[str, str, str], int] = {}
    for index, record in enumerate(_records(ctx)):
        for resource in record.get("resources") or [{}]:
            position[(str(record["eventTime"]), str(record["eventName"]), str(resource.get("ARN")))] = index
    return sorted(
        rows,
        key=lambda r: (str(r["eventtime"]), position.get((str(r["eventtime"]), r["operation"], str(r["key_arn"])), -1)),
        reverse=True,
    )


_CRYPTO_OPERATIONS = frozenset(
    {
        "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "Sign", "Verify",
        "GenerateMac", "VerifyMac", "DeriveSharedSecret",
    }
)  # fmt: skip


def last_used(ctx: LabContext) -> Sequence[Fact]:
    """key_last_used: Alice used the saved key last; every key's count of successful uses matches the trail."""
    result = _run(ctx, "key_last_used")
    rows = result.as_dicts()
    uses: Counter[str] = Counter()
    latest: dict[str, str] = {}
    for record in _records(ctx):
        if record.get("eventName") in _CRYPTO_OPERATIONS and not record.get("errorCode"):
            for resource in record.get("resources") or []:
                uses[str(resource.get("ARN"))] += 1
                latest[str(resource.get("ARN"))] = max(latest.get(str(resource.get("ARN")), ""), record["eventTime"])
    got = {str(r["key_arn"]): int(r["uses"]) for r in rows}
    ctx.expect(got == dict(uses), f"successful uses per key match the trail: expected {dict(uses)}, got {got}")
    arn = ctx.need("pending_refusal")["key_arn"]
    [mine] = [r for r in rows if r["key_arn"] == arn]
    ctx.expect(str(mine["last_used"]) == latest[arn], f"last used at {latest[arn]}, got {mine['last_used']}")
    ctx.expect(
        mine["last_principal"] == ctx.arn_of("alice"),
        f"chapter 7's key was last used by Alice, got {mine['last_principal']}",
    )
    columns = ("key_arn", "last_used", "last_operation", "last_principal", "uses")
    return [
        ("keys used", f"{len(rows)}; the refused calls do not count as uses"),
        *show_table(columns, [tuple(r[c] for c in columns) for r in rows if r["key_arn"] == arn]),
    ]


STEPS: tuple[Step, ...] = (
    Step(
        "Flush the trail",
        "Every call, refused ones included, is a CloudTrail record in the CloudTrail log file layout; "
        "LookupEvents answers from the same records.",
        flush,
    ),
    Step(
        "Query kms_calls_by_operation",
        "The Athena query, run offline through DuckDB, counts exactly the calls the lab made, failures included.",
        calls_by_operation,
    ),
    Step(
        "Query access_denied_calls",
        "Bob's refused Encrypt (chapter 3) is there, with who, what and the AccessDeniedException message.",
        access_denied,
    ),
    Step(
        "Query pending_deletion_key_use",
        "Alice's refused Decrypt of the key pending deletion (chapter 7) is there, with the principal.",
        pending_deletion_use,
    ),
    Step(
        "Query key_lifecycle_events",
        "The key's whole history is there: created, scheduled for deletion (7 days), cancelled, enabled.",
        lifecycle,
    ),
    Step(
        "Query key_last_used",
        "Before deleting a key, ask when it was last used: the saved key was last used by Alice, "
        "and every key's count of successful uses matches the trail.",
        last_used,
    ),
)
