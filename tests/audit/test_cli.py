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
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["key_arn"], r["operation"]) for r in rows] == [(KEY, "Decrypt")]


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
    ],
)
def test_bad_input_is_one_line_and_status_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(argv, capsys)
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) <= 3  # click usage errors add a usage line; ours are one line
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
