"""The offline engine: partition pruning, column pruning, the table it exposes, errors."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from kmslab.audit import AuditEngine, NamedQuery, QueryFailedError, TrailNotFoundError
from kmslab.audit.engine import file_day, find_log_files, needed_columns
from kmslab.audit.schema import COLUMNS, duckdb_columns
from kmslab.kms.seams import ApiCall, Caller
from kmslab.trail.recorder import TrailRecorder

pytestmark = pytest.mark.functional

ALICE = Caller(arn="arn:aws:iam::111122223333:user/alice", account="111122223333", identity_type="IAMUser")


def _trail(root: Path, days: list[datetime]) -> Path:
    with TrailRecorder(root, account="111122223333", background=False) as recorder:
        for i, when in enumerate(days):
            recorder(
                ApiCall(
                    event_time=when,
                    operation="GenerateRandom",
                    region="us-east-1",
                    account="111122223333",
                    caller=ALICE,
                    request_id=f"r{i}",
                    request={"NumberOfBytes": 8},
                    response={"Plaintext": "c2VjcmV0"},
                )
            )
    return root


def test_file_day_reads_the_partition_folder(tmp_path: Path) -> None:
    root = _trail(tmp_path, [datetime(2026, 2, 3, 4, 5, tzinfo=UTC)])
    (path,) = find_log_files(root)
    assert file_day(path) == "2026/02/03"
    assert file_day(Path("loose.json.gz")) is None


def test_needed_columns_prunes_columns_and_struct_fields() -> None:
    used = needed_columns("SELECT useridentity.arn, eventname FROM t CROSS JOIN UNNEST(resources) AS r (arn)")
    names = [c.name for c in used]
    assert names == ["useridentity", "eventname", "resources"]
    identity = used[0]
    assert [f.name for f in identity.type.fields] == ["arn"]
    whole = needed_columns("SELECT useridentity FROM t")[0]
    assert len(whole.type.fields) > 5
    assert [c.name for c in needed_columns("SELECT count(*) FROM t")] == ["eventversion"]


def test_partition_column_and_window_pruning(tmp_path: Path) -> None:
    root = _trail(tmp_path, [datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, 10, tzinfo=UTC)])
    with AuditEngine(root, today=date(2026, 3, 2)) as engine:
        engine._create_view(find_log_files(root), needed_columns("SELECT eventtime"))
        rows = engine.execute('SELECT "timestamp", eventtime FROM cloudtrail_logs ORDER BY 1').rows
        assert rows == [("2026/01/01", "2026-01-01T10:00:00Z"), ("2026/03/01", "2026-03-01T10:00:00Z")]
        from kmslab.audit import get_query

        result = engine.run(get_query("kms_calls_by_operation"), days=30)
        assert result.as_dicts() == [{"operation": "GenerateRandom", "calls": 1, "failed": 0, "principals": 1}]


def test_ingested_table_has_the_schema_columns_and_types(tmp_path: Path) -> None:
    root = _trail(tmp_path / "trail", [datetime(2026, 1, 1, tzinfo=UTC)])
    with AuditEngine(root, db=tmp_path / "a.duckdb") as engine:
        assert engine.ingest() == 1
        described = engine.execute("DESCRIBE cloudtrail_logs").rows
        normalized = [(name, kind.replace('"', "")) for name, kind, *_ in described]
        assert normalized == [(name, kind.replace('"', "")) for name, kind in duckdb_columns()]
        row = engine.execute("SELECT useridentity.arn, requestparameters, readonly FROM cloudtrail_logs").rows
        assert row == [(ALICE.arn, '{"numberOfBytes":8}', "true")]


def test_errors_are_named(tmp_path: Path) -> None:
    with pytest.raises(TrailNotFoundError):
        find_log_files(tmp_path / "missing")
    with pytest.raises(TrailNotFoundError):
        find_log_files(tmp_path)
    root = _trail(tmp_path / "trail", [datetime(2026, 1, 1, tzinfo=UTC)])
    with AuditEngine(root) as engine:
        with pytest.raises(QueryFailedError, match="ingest needs a database"):
            engine.ingest()
        with pytest.raises(QueryFailedError):
            engine.execute("SELECT nope FROM nowhere")
    with pytest.raises(QueryFailedError, match="plain identifier"):
        AuditEngine(root, table="x; drop")


@pytest.mark.parametrize(
    ("sql", "every_column"),
    [
        ("SELECT * FROM cloudtrail_logs", True),
        ("select distinct t.* from cloudtrail_logs t", True),
        ("SELECT eventname, * FROM cloudtrail_logs", True),
        ('SELECT "t".* FROM cloudtrail_logs AS "t"', True),
        ("SELECT count(*) AS n FROM cloudtrail_logs", False),
        ("SELECT eventname, 2 * 3 AS six FROM cloudtrail_logs", False),
        ("SELECT eventname FROM cloudtrail_logs -- not SELECT * here", False),
        ("SELECT eventname, '*' AS star, 'SELECT *' AS s FROM cloudtrail_logs", False),
    ],
)
def test_a_star_in_the_select_list_reads_every_column(sql: str, every_column: bool) -> None:
    columns = needed_columns(sql)
    assert (columns == COLUMNS) is every_column


def test_select_star_sees_every_column_cold_and_ingested(tmp_path: Path) -> None:
    root = _trail(tmp_path / "trail", [datetime(2026, 1, 1, tzinfo=UTC)])
    query = NamedQuery(name="all", description="all", sql="SELECT * FROM {{table}} WHERE {{days}}")
    names = [name for name, _ in duckdb_columns()]
    for db in (None, tmp_path / "a.duckdb"):
        with AuditEngine(root, db=db, today=date(2026, 1, 2)) as engine:
            result = engine.run(query, days=5)
        assert list(result.columns) == names
        (row,) = result.as_dicts()
        assert row["useridentity"]["arn"] == ALICE.arn
        assert (row["eventname"], row["readonly"], row["timestamp"]) == ("GenerateRandom", "true", "2026/01/01")
        assert row["requestparameters"] == '{"numberOfBytes":8}'
