"""``kmslab audit``: list, print, run and ingest; bad input is one line on stderr and exit status 2."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from kmslab.audit.queries import get_query, load_queries
from kmslab.cli import main
from kmslab.kms.seams import ApiCall, Caller
from kmslab.trail.recorder import TrailRecorder

pytestmark = pytest.mark.functional

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def trail_dir(tmp_path: Path) -> Path:
    from datetime import UTC, datetime, timedelta

    when = datetime.now(UTC) - timedelta(hours=2)
    alice = Caller(arn="arn:aws:iam::111122223333:user/alice", account="111122223333", identity_type="IAMUser")
    with TrailRecorder(tmp_path / "trail", account="111122223333", background=False) as recorder:
        for i, error in enumerate([None, None, ("KMSInvalidStateException", f"{KEY} is pending deletion.")]):
            recorder(
                ApiCall(
                    event_time=when + timedelta(minutes=i),
                    operation="Decrypt",
                    region="us-east-1",
                    account="111122223333",
                    caller=alice,
                    request_id=f"r{i}",
                    request={},
                    response=None if error else {"KeyId": KEY},
                    error_code=error[0] if error else None,
                    error_message=error[1] if error else None,
                    key_arns=(KEY,),
                )
            )
    return tmp_path / "trail"


def test_queries_lists_every_query(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(["audit", "queries"], capsys)
    assert status == 0
    for query in load_queries():
        assert query.name in out
        assert query.description in out


def test_sql_prints_the_athena_text(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(["audit", "sql", "pending_deletion_key_use", "--table", "audit.ct"], capsys)
    assert status == 0
    assert out.startswith("-- pending_deletion_key_use:")
    assert "FROM audit.ct" in out
    assert (
        out.rstrip()
        == get_query("pending_deletion_key_use").sql.replace("{{table}}", "audit.ct").replace("{{days}}", "30").rstrip()
    )


def test_query_formats(trail_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(["audit", "query", "kms_calls_by_operation", "--trail-dir", str(trail_dir)], capsys)
    assert status == 0
    assert "Decrypt" in out and "(1 rows)" in out
    status, out, _ = run_main(
        ["audit", "query", "kms_calls_by_operation", "--trail-dir", str(trail_dir), "--format", "csv"], capsys
    )
    assert list(csv.DictReader(io.StringIO(out))) == [
        {"operation": "Decrypt", "calls": "3", "failed": "1", "principals": "1"}
    ]
    status, out, _ = run_main(
        ["audit", "query", "pending_deletion_key_use", "--trail-dir", str(trail_dir), "--format", "json"], capsys
    )
    rows = json.loads(out)
    assert [(r["key_arn"], r["operation"]) for r in rows] == [(KEY, "Decrypt")]


def _days_trail(root: Path) -> Path:
    """Failed Decrypts on 2026-01-01, -02 and -03 (two on the 2nd), in the CloudTrail layout."""
    from datetime import UTC, datetime

    alice = Caller(arn="arn:aws:iam::111122223333:user/alice", account="111122223333", identity_type="IAMUser")
    with TrailRecorder(root, account="111122223333", background=False) as recorder:
        for i, when in enumerate([(1, 9), (2, 9), (2, 23), (3, 0)]):
            recorder(
                ApiCall(
                    event_time=datetime(2026, 1, when[0], when[1], 30, tzinfo=UTC),
                    operation="Decrypt",
                    region="us-east-1",
                    account="111122223333",
                    caller=alice,
                    request_id=f"r{i}",
                    request={},
                    response=None,
                    error_code="AccessDeniedException",
                    error_message="denied",
                    key_arns=(KEY,),
                )
            )
    return root


@pytest.mark.parametrize("output", ["json", "jsonl"])
def test_json_is_one_array_and_jsonl_one_object_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    root = _days_trail(tmp_path / "trail")
    argv = ["audit", "query", "kms_failed_calls", "--trail-dir", str(root), "--since", "2026-01-01"]
    status, out, _ = run_main([*argv, "--format", output], capsys)
    assert status == 0
    if output == "json":
        rows = json.loads(out)  # the whole output is one JSON document
        assert isinstance(rows, list)
    else:
        lines = out.splitlines()
        assert len(lines) == 4
        rows = [json.loads(line) for line in lines]
    assert all(isinstance(row, dict) for row in rows)
    assert sorted(row["requestid"] for row in rows) == ["r0", "r1", "r2", "r3"]


def test_json_of_an_empty_result_is_an_empty_array(trail_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["audit", "query", "access_denied_calls", "--trail-dir", str(trail_dir), "--format"]
    assert json.loads(run_main([*argv, "json"], capsys)[1]) == []
    assert run_main([*argv, "jsonl"], capsys)[1] == ""


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (["--since", "2026-01-02"], ["r1", "r2", "r3"]),
        (["--since", "2026-01-02", "--until", "2026-01-02"], ["r1", "r2"]),  # the whole UTC day, both ends
        (["--until", "2026-01-02", "--days", "1"], ["r0", "r1", "r2"]),  # like --days, counted back from --until
        (["--until", "2026-01-01"], ["r0"]),  # 30 days back from --until by default
        (["--since", "2026-01-04"], []),
    ],
)
def test_since_and_until_pick_whole_utc_days(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], window: list[str], expected: list[str]
) -> None:
    root = _days_trail(tmp_path / "trail")
    argv = ["audit", "query", "kms_failed_calls", "--trail-dir", str(root), "--format", "csv", *window]
    status, out, err = run_main(argv, capsys)
    assert status == 0, err
    assert sorted(r["requestid"] for r in csv.DictReader(io.StringIO(out))) == expected
    db = tmp_path / "audit.duckdb"
    status, out, err = run_main([*argv, "--db", str(db)], capsys)
    assert status == 0, err
    assert sorted(r["requestid"] for r in csv.DictReader(io.StringIO(out))) == expected


def test_sql_prints_the_fixed_window(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_main(
        ["audit", "sql", "kms_failed_calls", "--since", "2026-01-02", "--until", "2026-01-05"], capsys
    )
    assert status == 0
    assert "WHERE \"timestamp\" BETWEEN '2026/01/02' AND '2026/01/05'" in out
    assert "{{days}}" not in out and "current_date" not in out
    status, out, _ = run_main(["audit", "sql", "kms_failed_calls", "--since", "2026-01-02"], capsys)
    assert "WHERE \"timestamp\" >= '2026/01/02'" in out


def test_damaged_files_are_warned_about_on_stderr(trail_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gzip

    day = next(trail_dir.rglob("*.json.gz")).parent
    bad = day / "poisoned.json.gz"
    bad.write_bytes(gzip.compress(b'{"Records":[{"eventName":"Decrypt","errorMessage":"\\ud800"}]}'))
    argv = ["audit", "query", "kms_calls_by_operation", "--trail-dir", str(trail_dir), "--format", "csv"]
    status, out, err = run_main(argv, capsys)
    assert status == 0
    assert list(csv.DictReader(io.StringIO(out))) == [
        {"operation": "Decrypt", "calls": "3", "failed": "1", "principals": "1"}
    ]
    lines = err.strip().splitlines()
    reason = "record 1: a string is not valid Unicode (lone surrogate \\ud800)"
    assert lines[0] == f"kmslab: warning: {bad}: skipped 1 record ({reason})"
    assert lines[1].startswith("kmslab: warning: 1 damaged log file(s): 1 record(s) skipped")
    status, out, err = run_main(
        ["audit", "ingest", "--trail-dir", str(trail_dir), "--db", str(trail_dir / "a.duckdb")], capsys
    )
    assert status == 0
    assert "3 records added" in out
    assert f"kmslab: warning: {bad}: skipped 1 record" in err


def test_ingest_then_query_from_the_database(
    trail_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "audit.duckdb"
    status, out, err = run_main(["audit", "ingest", "--trail-dir", str(trail_dir), "--db", str(db)], capsys)
    assert status == 0
    assert "3 records added" in out
    assert "ingested 1/1 files" in err
    status, out, _ = run_main(["audit", "ingest", "--trail-dir", str(trail_dir), "--db", str(db)], capsys)
    assert "0 records added" in out  # files are ingested once
    status, out, _ = run_main(
        ["audit", "query", "kms_failed_calls", "--trail-dir", str(trail_dir), "--db", str(db), "--format", "csv"],
        capsys,
    )
    assert status == 0
    assert [r["errorcode"] for r in csv.DictReader(io.StringIO(out))] == ["KMSInvalidStateException"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["audit", "query", "nope", "--trail-dir", "."], "no audit query named 'nope'"),
        (["audit", "sql", "nope"], "no audit query named 'nope'"),
        (["audit", "query", "kms_failed_calls", "--trail-dir", "/nonexistent/trail"], "no trail directory"),
        (["audit", "query", "kms_failed_calls", "--trail-dir", ".", "--days", "0"], "--days"),
        (["audit", "sql", "kms_failed_calls", "--table", "a;b"], "not a valid table name"),
        (
            ["audit", "query", "kms_failed_calls", "--trail-dir", ".", "--since", "2026-02-30"],
            "'2026-02-30' is not a day",
        ),
        (["audit", "query", "kms_failed_calls", "--trail-dir", ".", "--until", "2026/01/01"], "YYYY-MM-DD"),
        (["audit", "sql", "kms_failed_calls", "--since", "yesterday"], "'yesterday' is not a day written YYYY-MM-DD"),
        (["audit", "sql", "kms_failed_calls", "--since", "2026-01-01", "--days", "3"], "--days and --since"),
        (
            ["audit", "sql", "kms_failed_calls", "--since", "2026-01-02", "--until", "2026-01-01"],
            "starts after it ends",
        ),
        (["audit", "query", "kms_failed_calls", "--trail-dir", ".", "--format", "xml"], "--format"),
    ],
)
def test_bad_input_is_one_line_and_status_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(argv, capsys)
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_an_empty_trail_directory_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_main(["audit", "query", "kms_failed_calls", "--trail-dir", str(tmp_path)], capsys)
    assert status == 2
    assert err.strip() == f"kmslab: error: no CloudTrail log files (*.json.gz) under {tmp_path}"


def test_help_on_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["audit"], ["audit", "query"], ["audit", "ingest"], ["audit", "sql"], ["audit", "queries"]):
        status, out, _ = run_main([*argv, "--help"], capsys)
        assert status == 0
        assert "Usage:" in out
