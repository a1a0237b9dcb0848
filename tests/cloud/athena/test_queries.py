"""Athena query executions over the kit's Glue table and a scenario's CloudTrail files, against ``kmslab audit``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from concurrent.futures import Executor, Future
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kmslab.audit.engine import AuditEngine
from kmslab.audit.queries import load_queries, render
from kmslab.cloud.athena import (
    CANCELLED,
    FAILED,
    QUEUED,
    SUCCEEDED,
    AthenaBackend,
    InvalidRequestException,
    QueryFailed,
    ResultTable,
    run_query,
)
from kmslab.cloud.athena.results import text
from tests.audit.scenario import Scenario, run_scenario
from tests.cloud.logs.kit import TRAIL_BUCKET, resource

DATABASE = "kmslab_audit"
OUTPUT = "s3://results-bucket/athena-results/"


class Folder:
    """S3 backed by a folder per bucket: the ObjectSource and ResultWriter the tests pass."""

    def __init__(self, buckets: Mapping[str, Path]) -> None:
        self.buckets = dict(buckets)
        self.read: list[str] = []
        self.written: dict[str, tuple[bytes, str, Mapping[str, Any] | None]] = {}
        self.denied: set[str] = set()

    def list_objects(self, bucket: str, prefix: str) -> list[tuple[str, int]]:
        if bucket in self.denied:
            raise PermissionError(bucket)
        root = self.buckets[bucket]
        found = [p for p in (root / prefix).rglob("*") if p.is_file()] if (root / prefix).is_dir() else []
        return sorted((p.relative_to(root).as_posix(), p.stat().st_size) for p in found)

    def get_object(self, bucket: str, key: str) -> bytes:
        self.read.append(key)
        return (self.buckets[bucket] / key).read_bytes()

    def put(self, bucket: str, key: str, body: bytes, content_type: str, encryption: Mapping[str, Any] | None) -> None:
        if bucket in self.denied:
            raise PermissionError(bucket)
        self.written[f"s3://{bucket}/{key}"] = (body, content_type, encryption)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return run_scenario(tmp_path_factory.mktemp("trail"))


@pytest.fixture(scope="module")
def table() -> dict[str, Any]:
    glue = resource("KmslabAnalytics", "AWS::Glue::Table")
    assert glue["DatabaseName"] == DATABASE
    found: dict[str, Any] = glue["TableInput"]
    return found


@pytest.fixture
def s3(scenario: Scenario) -> Folder:
    return Folder({TRAIL_BUCKET: scenario.trail_dir})


@pytest.fixture
def athena(scenario: Scenario) -> AthenaBackend:
    backend = AthenaBackend("111122223333", "us-east-1", today=lambda: scenario.today.date())
    workgroup = resource("KmslabAnalytics", "AWS::Athena::WorkGroup")
    backend.create_work_group(workgroup["Name"], workgroup["WorkGroupConfiguration"])
    return backend


def _workgroup_output() -> str:
    """The kit workgroup's enforced OutputLocation, without its trailing slash."""
    workgroup = resource("KmslabAnalytics", "AWS::Athena::WorkGroup")
    location: str = workgroup["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"]
    return location.rstrip("/")


def _start(athena: AthenaBackend, s3: Folder, table: dict[str, Any], sql: str, **kwargs: Any) -> str:
    def catalog(database: str, name: str) -> dict[str, Any] | None:
        return table if (database, name) == (DATABASE, table["Name"]) else None

    kwargs.setdefault("workgroup", "kmslab-audit")
    return athena.start_query_execution(sql, catalog=catalog, source=s3, writer=s3.put, database=DATABASE, **kwargs)


def _all_rows(athena: AthenaBackend, execution_id: str, page_size: int = 1000) -> list[list[str | None]]:
    rows, token = [], None
    while True:
        page = athena.get_query_results(execution_id, next_token=token, max_results=page_size)
        rows += [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
        token = page.get("NextToken")
        if token is None:
            return rows


@pytest.mark.parametrize("query", load_queries(), ids=lambda q: q.name)
def test_each_named_query_answers_as_kmslab_audit_does(
    query: Any, scenario: Scenario, athena: AthenaBackend, s3: Folder, table: dict[str, Any]
) -> None:
    sql = render(query, table=f"{DATABASE}.{table['Name']}", days=30)
    execution_id = _start(athena, s3, table, sql)
    execution = athena.get_query_execution(execution_id)
    assert execution.state == SUCCEEDED, execution.reason
    with AuditEngine(scenario.trail_dir, today=scenario.today.date()) as engine:
        expected = engine.run(query, days=30)
    rows = _all_rows(athena, execution_id, page_size=3)
    assert rows[0] == list(expected.columns)
    assert rows[1:] == [[text(v) for v in row] for row in expected.rows]
    # only the window's partitions were read: the scenario's 45-day-old files were not
    cutoff = scenario.today.date().toordinal() - 30
    assert s3.read and all(_day_ordinal(key) >= cutoff for key in s3.read)
    every = [p.relative_to(scenario.trail_dir).as_posix() for p in scenario.trail_dir.rglob("*.json.gz")]
    assert any(_day_ordinal(key) < cutoff for key in every)  # the old files exist, and were not read
    assert execution.scanned == sum(len((scenario.trail_dir / key).read_bytes()) for key in s3.read)
    info = athena.get_query_results(execution_id)["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [c["Name"] for c in info] == list(expected.columns)


def _day_ordinal(key: str) -> int:
    year, month, day = (int(p) for p in key.split("/")[-4:-1])
    return date(year, month, day).toordinal()


def test_results_are_written_as_csv_and_metadata_with_the_workgroup_encryption(
    athena: AthenaBackend, s3: Folder, table: dict[str, Any]
) -> None:
    query = next(q for q in load_queries() if q.name == "kms_calls_by_operation")
    execution_id = _start(athena, s3, table, render(query, table=f"{DATABASE}.{table['Name']}", days=30))
    execution = athena.get_query_execution(execution_id).to_api()
    location = execution["ResultConfiguration"]["OutputLocation"]
    assert location == f"{_workgroup_output()}/{execution_id}.csv"
    body, content_type, encryption = s3.written[location]
    assert content_type == "text/csv"
    assert encryption == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": execution["ResultConfiguration"]["EncryptionConfiguration"]["KmsKey"],
    }
    lines = body.decode().splitlines()
    assert lines[0].startswith('"operation",')
    parsed = list(csv.reader(io.StringIO(body.decode())))
    assert parsed == _all_rows(athena, execution_id)
    metadata = json.loads(s3.written[location + ".metadata"][0])
    assert metadata["format"] == "kmslab-athena-metadata/1"
    assert metadata["RowCount"] == len(parsed) - 1
    assert execution["Statistics"]["DataScannedInBytes"] == metadata["DataScannedInBytes"] > 0
    assert execution["Status"]["State"] == "SUCCEEDED" and execution["StatementType"] == "DML"


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELEC eventname FROM kmslab_audit.cloudtrail_logs", "NOT_SUPPORTED"),
        ("SELECT eventname FROM kmslab_audit.cloudtrail_logs WHERE", "SYNTAX_ERROR"),
        ("SELECT no_such_column FROM kmslab_audit.cloudtrail_logs", "COLUMN_NOT_FOUND"),
        (
            "SELECT eventname FROM kmslab_audit.nope",
            "TABLE_NOT_FOUND: line 1:23: Table 'awsdatacatalog.kmslab_audit.nope' does not exist",
        ),
        ("SELECT no_such_fn(eventname) FROM cloudtrail_logs", "FUNCTION_NOT_FOUND"),
        ("SELECT 1 FROM other.cloudtrail_logs JOIN kmslab_audit.cloudtrail_logs ON true", "NOT_SUPPORTED"),
    ],
)
def test_bad_sql_ends_failed_with_athenas_reason(
    sql: str, reason: str, athena: AthenaBackend, s3: Folder, table: dict[str, Any]
) -> None:
    execution = athena.get_query_execution(_start(athena, s3, table, sql))
    assert execution.state == FAILED
    assert execution.reason is not None and execution.reason.startswith(reason), execution.reason
    status = execution.to_api()["Status"]
    assert status["AthenaError"]["ErrorCategory"] == 2
    with pytest.raises(InvalidRequestException):
        athena.get_query_results(execution.id)


def test_a_refused_read_or_write_fails_the_query(athena: AthenaBackend, s3: Folder, table: dict[str, Any]) -> None:
    sql = "SELECT count(*) AS n FROM kmslab_audit.cloudtrail_logs"
    s3.denied = {TRAIL_BUCKET}
    failed = athena.get_query_execution(_start(athena, s3, table, sql))
    assert failed.state == FAILED and failed.reason is not None
    assert failed.reason.startswith(f"Permission denied on S3 path: s3://{TRAIL_BUCKET}/")
    results_bucket = _workgroup_output().removeprefix("s3://").split("/")[0]
    s3.denied = {results_bucket}
    failed = athena.get_query_execution(_start(athena, s3, table, sql))
    assert failed.state == FAILED and failed.reason is not None
    assert failed.reason.startswith(f"Access denied when writing output to url: s3://{results_bucket}/")


def test_the_bytes_scanned_cutoff_cancels_the_query(s3: Folder, table: dict[str, Any], scenario: Scenario) -> None:
    def catalog(database: str, name: str) -> dict[str, Any]:
        return table

    sql = "SELECT count(*) FROM kmslab_audit.cloudtrail_logs"
    outcome = run_query(sql, database=None, catalog=catalog, source=s3, today=scenario.today.date())
    assert outcome.objects > 1
    with pytest.raises(QueryFailed) as caught:
        run_query(
            sql,
            database=None,
            catalog=catalog,
            source=s3,
            today=scenario.today.date(),
            bytes_cutoff=outcome.data_scanned - 1,
        )
    assert caught.value.state == CANCELLED
    assert "Bytes scanned limit was exceeded" in caught.value.message
    with pytest.raises(InvalidRequestException, match="BytesScannedCutoffPerQuery"):
        AthenaBackend("1", "r").create_work_group("tiny", {"BytesScannedCutoffPerQuery": 1000})


class HeldExecutor(Executor):
    """Keeps submitted jobs until the test runs them."""

    def __init__(self) -> None:
        self.jobs: list[Any] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.jobs.append(lambda: fn(*args, **kwargs))
        return Future()


def test_state_machine_queued_running_and_stop(scenario: Scenario, s3: Folder, table: dict[str, Any]) -> None:
    held = HeldExecutor()
    athena = AthenaBackend("111122223333", "us-east-1", executor=held, today=lambda: scenario.today.date())
    athena.create_work_group("wg", {"ResultConfiguration": {"OutputLocation": OUTPUT}})
    sql = "SELECT count(*) AS n FROM kmslab_audit.cloudtrail_logs"
    first = _start(athena, s3, table, sql, workgroup="wg")
    second = _start(athena, s3, table, sql, workgroup="wg")
    assert athena.get_query_execution(first).state == QUEUED
    with pytest.raises(InvalidRequestException, match="Current state: QUEUED"):
        athena.get_query_results(first)
    athena.stop_query_execution(first)
    assert athena.get_query_execution(first).state == CANCELLED
    for job in held.jobs:
        job()
    assert athena.get_query_execution(first).state == CANCELLED  # a cancelled query never runs
    assert athena.get_query_execution(second).state == SUCCEEDED
    athena.stop_query_execution(second)  # a finished query stays as it is
    assert athena.get_query_execution(second).state == SUCCEEDED
    assert sorted(athena.list_query_executions("wg")) == sorted([first, second])
    with pytest.raises(InvalidRequestException, match="was not found"):
        athena.get_query_execution("nope")


def test_output_location_rules(scenario: Scenario, s3: Folder, table: dict[str, Any]) -> None:
    athena = AthenaBackend("111122223333", "us-east-1", today=lambda: scenario.today.date())
    sql = "SELECT 1 AS one FROM kmslab_audit.cloudtrail_logs LIMIT 1"
    with pytest.raises(InvalidRequestException, match="No output location provided"):
        _start(athena, s3, table, sql, workgroup="primary")
    athena.create_work_group(
        "open", {"EnforceWorkGroupConfiguration": False, "ResultConfiguration": {"OutputLocation": OUTPUT}}
    )
    mine = _start(athena, s3, table, sql, workgroup="open", result_configuration={"OutputLocation": "s3://mine/q/"})
    assert athena.get_query_execution(mine).output.startswith("s3://mine/q/")
    athena.create_work_group("strict", {"ResultConfiguration": {"OutputLocation": OUTPUT}})
    forced = _start(athena, s3, table, sql, workgroup="strict", result_configuration={"OutputLocation": "s3://mine/q/"})
    assert athena.get_query_execution(forced).output.startswith(OUTPUT)
    with pytest.raises(InvalidRequestException, match="is not found"):
        _start(athena, s3, table, sql, workgroup="missing")


def test_named_queries_and_workgroups(athena: AthenaBackend) -> None:
    ids = [
        athena.create_named_query(name=q.name, database=DATABASE, query=q.sql, workgroup="kmslab-audit")
        for q in load_queries()
    ]
    assert set(athena.list_named_queries("kmslab-audit")) == set(ids)
    assert athena.get_named_query(ids[0])["Name"] == load_queries()[0].name
    batch = athena.batch_get_named_query([ids[1], "missing"])
    assert [q["NamedQueryId"] for q in batch["NamedQueries"]] == [ids[1]]
    assert batch["UnprocessedNamedQueryIds"][0]["NamedQueryId"] == "missing"
    assert [g["Name"] for g in athena.list_work_groups()] == ["kmslab-audit", "primary"]
    with pytest.raises(InvalidRequestException, match="already created"):
        athena.create_work_group("primary")


def test_pages_carry_the_header_once_and_validate_tokens() -> None:
    result = ResultTable.of(("a", "b"), [(1, None), (2, "x"), (3, "y")])
    first = result.page(max_results=2)
    assert [[d.get("VarCharValue") for d in r["Data"]] for r in first["ResultSet"]["Rows"]] == [["a", "b"], ["1", None]]
    second = result.page(next_token=first["NextToken"], max_results=2)
    assert [[d.get("VarCharValue") for d in r["Data"]] for r in second["ResultSet"]["Rows"]] == [["2", "x"], ["3", "y"]]
    assert "NextToken" not in second
    assert [c["Type"] for c in first["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]] == ["bigint", "varchar"]
    assert result.csv() == b'"a","b"\n"1",\n"2","x"\n"3","y"\n'
    for bad in ("garbage", ""):
        with pytest.raises(InvalidRequestException):
            result.page(next_token=bad or "e30=", max_results=2)
    with pytest.raises(InvalidRequestException):
        result.page(max_results=1001)


def test_stop_while_running_cancels_and_keeps_no_result(scenario: Scenario, s3: Folder, table: dict[str, Any]) -> None:
    athena = AthenaBackend("111122223333", "us-east-1", today=lambda: scenario.today.date())
    athena.create_work_group("wg", {"ResultConfiguration": {"OutputLocation": OUTPUT}})

    class Stopping(Folder):
        def get_object(self, bucket: str, key: str) -> bytes:
            for execution_id in athena.executions:
                athena.stop_query_execution(execution_id)  # StopQueryExecution arrives mid-read
            return super().get_object(bucket, key)

    source = Stopping(s3.buckets)
    execution_id = _start(athena, source, table, "SELECT count(*) FROM kmslab_audit.cloudtrail_logs", workgroup="wg")
    execution = athena.get_query_execution(execution_id)
    assert execution.state == CANCELLED and execution.result is None
    assert source.written == {}
    assert len(source.read) == 1  # reading stopped at the next object
    assert "AthenaError" not in execution.to_api()["Status"]


def test_select_star_reads_every_column(s3: Folder, table: dict[str, Any], scenario: Scenario) -> None:
    # Regression: the engine prunes to the columns a query names, and '*' names none.
    outcome = run_query(
        "SELECT * FROM kmslab_audit.cloudtrail_logs WHERE eventname = 'Decrypt' LIMIT 1",
        database=None,
        catalog=lambda database, name: table,
        source=s3,
        today=scenario.today.date(),
    )
    row = dict(zip(outcome.result.columns, outcome.result.rows[0], strict=True))
    assert row["eventsource"] == "kms.amazonaws.com" and row["eventversion"]
    assert row["useridentity"] is not None and row["useridentity"].startswith("{type=")
    assert "=None" not in row["useridentity"]
    assert dict(zip(outcome.result.columns, outcome.result.types, strict=True))["useridentity"] == "row"
