"""Chapter 10 of the lab (``workshop/10-audit.md``): CloudTrail and Athena, as the auditor.

The trail delivers its log files to the trail bucket; the auditor (the kit's ``kmslab-auditor``
role) runs every named query of the kit's Athena workgroup over them, as ``aws athena
start-query-execution`` does, and reads the results. The result tables go into the lab's report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from kmslab.audit.queries import load_queries
from kmslab.lab._steps import Fact, LabContext, Step, show_table

WORKGROUP = "kmslab-audit"
QUERY_TIMEOUT = 60.0


def _athena(ctx: LabContext) -> Any:
    return ctx.client("auditor", service="athena")


def named_queries(ctx: LabContext) -> Sequence[Fact]:
    """Deliver the trail's files, then list the workgroup's named queries."""
    if ctx.recorder is not None:
        ctx.recorder.flush()
    athena = _athena(ctx)
    ids = athena.list_named_queries(WorkGroup=WORKGROUP)["NamedQueryIds"]
    found = athena.batch_get_named_query(NamedQueryIds=ids)["NamedQueries"] if ids else []
    by_name = {q["Name"]: q for q in found}
    expected = {q.name for q in load_queries()}
    ctx.expect(
        expected <= set(by_name), f"the workgroup has every kit query, missing {sorted(expected - set(by_name))}"
    )
    ctx.state["named_queries"] = by_name
    bucket = ctx.lab.resource("KmslabTrail", "TrailBucket")
    files = ctx.client("auditor", service="s3").list_objects_v2(Bucket=bucket, Prefix="AWSLogs/").get("KeyCount", 0)
    ctx.expect(files > 0, "the trail delivered log files to its bucket")
    return [
        ("trail bucket", f"{bucket}: {files} object(s) under AWSLogs/"),
        ("named queries", ", ".join(sorted(by_name))),
    ]


def run_query(ctx: LabContext, name: str) -> tuple[list[str], list[list[str]], str]:
    """Run one named query as the auditor and wait for its rows.

    Args:
        ctx: the lab context.
        name: the named query's name.

    Returns:
        The column names, the rows, and the query execution ID.
    """
    athena = _athena(ctx)
    query = ctx.need("named_queries")[name]
    started = athena.start_query_execution(
        QueryString=query["QueryString"],
        QueryExecutionContext={"Database": query["Database"]},
        WorkGroup=query.get("WorkGroup", WORKGROUP),
    )["QueryExecutionId"]
    deadline = time.monotonic() + QUERY_TIMEOUT
    while True:
        status = athena.get_query_execution(QueryExecutionId=started)["QueryExecution"]["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    ctx.expect(
        status["State"] == "SUCCEEDED", f"{name} succeeded, got {status['State']}: {status.get('StateChangeReason')}"
    )
    rows: list[list[str]] = []
    columns: list[str] = []
    token: str | None = None
    while True:
        kwargs = {"QueryExecutionId": started, **({"NextToken": token} if token else {})}
        page = athena.get_query_results(**kwargs)
        columns = columns or [c["Name"] for c in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
        rows += [[d.get("VarCharValue", "") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
        token = page.get("NextToken")
        if not token:
            break
    if rows and rows[0] == columns:  # Athena's first row of a SELECT repeats the column names
        rows = rows[1:]
    ctx.artefacts.setdefault("queries", {})[name] = {
        "description": ctx.need("named_queries")[name].get("Description", ""),
        "columns": columns,
        "rows": rows,
    }
    return columns, rows, started


def _column(columns: list[str], rows: list[list[str]], name: str) -> list[str]:
    return [row[columns.index(name)] for row in rows] if name in columns else []


def _data_key(ctx: LabContext) -> str:
    return str(ctx.kms.describe_key(KeyId="alias/kmslab/data")["KeyMetadata"]["Arn"])


def _query_step(name: str, check: Callable[[LabContext, list[str], list[list[str]]], None]) -> Callable[..., Any]:
    def action(ctx: LabContext) -> Sequence[Fact]:
        columns, rows, execution = run_query(ctx, name)
        check(ctx, columns, rows)
        return [("QueryExecutionId", execution), ("rows", str(len(rows))), *show_table(columns, rows, limit=5)]

    action.__doc__ = f"Run the named query {name} as the auditor."
    return action


def _any_rows(ctx: LabContext, columns: list[str], rows: list[list[str]]) -> None:
    ctx.expect(bool(columns), "the query returns its columns")


def _pending(ctx: LabContext, columns: list[str], rows: list[list[str]]) -> None:
    keys = _column(columns, rows, "key_arn")
    ctx.expect(_data_key(ctx) in keys, f"the refused use of the data key in chapter 9 is listed, got {keys}")


def _lifecycle(ctx: LabContext, columns: list[str], rows: list[list[str]]) -> None:
    times = _column(columns, rows, "eventtime")
    ctx.expect(times == sorted(times, reverse=True), "the lifecycle events are listed newest first")
    operations = set(_column(columns, rows, "operation") or _column(columns, rows, "eventname"))
    ctx.expect(
        {"ScheduleKeyDeletion", "CancelKeyDeletion"} <= operations, f"chapter 9's deletion is there: {operations}"
    )


def _failed(ctx: LabContext, columns: list[str], rows: list[list[str]]) -> None:
    text = " ".join(" ".join(row) for row in rows)
    ctx.expect("KMSInvalidStateException" in text, "the refused call of chapter 9 is among the failed calls")


CHECKS: dict[str, Callable[[LabContext, list[str], list[list[str]]], None]] = {
    "pending_deletion_key_use": _pending,
    "key_lifecycle_events": _lifecycle,
    "kms_failed_calls": _failed,
}

STEPS: tuple[Step, ...] = (
    Step(
        "Deliver the trail and list the kit's named queries",
        "The trail writes its log files to the trail bucket; the analytics stack saved one Athena named "
        "query per audit question in the kmslab-audit workgroup.",
        named_queries,
    ),
    *(
        Step(
            f"Run {query.name}",
            query.description.rstrip(".") + ".",
            _query_step(query.name, CHECKS.get(query.name, _any_rows)),
        )
        for query in load_queries()
    ),
)
