"""Damaged CloudTrail files: the engine skips and reports what it cannot read, and keeps the rest.

Issue 11 item 6: one record with a lone surrogate escape used to fail every query over the window
("Malformed JSON ... no low surrogate in string"), hiding all the other records.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kmslab.audit import AuditEngine, NamedQuery, get_query
from kmslab.audit.damage import Damage, salvage
from kmslab.kms.seams import ApiCall, Caller
from kmslab.trail.record import to_cloudtrail_record
from kmslab.trail.recorder import log_file_dir, write_log_file

pytestmark = pytest.mark.functional

ACCOUNT = "111122223333"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TODAY = date(2026, 3, 2)
MALLORY = Caller(arn=f"arn:aws:iam::{ACCOUNT}:user/mallory", account=ACCOUNT, identity_type="IAMUser")


def denied(i: int, *, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """One refused Decrypt, as the recorder writes it."""
    call = ApiCall(
        event_time=datetime(2026, 3, 1, 10, tzinfo=UTC) + timedelta(seconds=i),
        operation="Decrypt",
        region="us-east-1",
        account=ACCOUNT,
        caller=MALLORY,
        request_id=f"req-{i:04d}",
        request={"KeyId": KEY, "EncryptionContext": context or {"n": str(i)}},
        response=None,
        error_code="AccessDeniedException",
        error_message="User is not authorized to perform this operation.",
        key_arns=(KEY,),
    )
    return to_cloudtrail_record(call, event_id=f"evt-{i:04d}")


def folder(root: Path) -> Path:
    return log_file_dir(root, ACCOUNT, "us-east-1", "2026-03-01T10:00:00Z")


def write_raw(path: Path, text: str, *, keep: float = 1.0) -> Path:
    """Write a gzip file holding ``text`` as is (lone surrogates kept), optionally cut short."""
    data = gzip.compress(text.encode("utf-8", "surrogatepass"), mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: int(len(data) * keep)] if keep < 1 else data)
    return path


def records_text(*records: dict[str, Any] | str) -> str:
    parts = [r if isinstance(r, str) else json.dumps(r) for r in records]
    return '{"Records":[' + ",".join(parts) + "]}"


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    """Two sound files of refused calls (records 1-4), in the CloudTrail layout."""
    root = tmp_path / "trail"
    write_log_file(folder(root) / "a-sound.json.gz", [denied(1), denied(2)])
    write_log_file(folder(root) / "z-sound.json.gz", [denied(3), denied(4)])
    return root


def request_ids(rows: list[tuple[Any, ...]], columns: tuple[str, ...]) -> list[str]:
    return sorted(str(dict(zip(columns, row, strict=True))["requestid"]) for row in rows)


def run_cold(root: Path) -> tuple[list[str], tuple[Damage, ...]]:
    with AuditEngine(root, today=TODAY) as engine:
        result = engine.run(get_query("kms_failed_calls"), days=30)
    return request_ids(result.rows, result.columns), result.damaged


def run_ingested(root: Path, db: Path) -> tuple[list[str], tuple[Damage, ...]]:
    with AuditEngine(root, db=db, today=TODAY) as engine:
        engine.ingest()
        damaged = engine.damaged
        result = engine.run(get_query("kms_failed_calls"), days=30)
    return request_ids(result.rows, result.columns), damaged


def test_lone_surrogate_record_no_longer_hides_the_window(trail: Path, tmp_path: Path) -> None:
    # the scenario: a denied call whose encryption context holds "\ud800", next to good files.
    # Our recorder now writes U+FFFD instead, so the file stands for one written by an older or foreign writer.
    poisoned = json.dumps(denied(5, context={"x": "POISON"})).replace("POISON", "\\ud800")
    assert '"\\ud800"' in poisoned
    bad = write_raw(folder(trail) / "m-poisoned.json.gz", records_text(poisoned, denied(6)))
    for rows, damaged in (run_cold(trail), run_ingested(trail, tmp_path / "a.duckdb")):
        assert rows == ["req-0001", "req-0002", "req-0003", "req-0004", "req-0006"]
        assert len(damaged) == 1
        assert damaged[0].path == bad
        assert damaged[0].records == 1
        assert not damaged[0].whole_file
        assert "record 1" in damaged[0].describe() and "\\ud800" in damaged[0].describe()
    with AuditEngine(trail, today=TODAY) as engine:
        result = engine.run(get_query("access_denied_calls"), days=30)
    assert len(result.rows) == 5  # the good rows of access_denied_calls come back


@pytest.mark.parametrize(
    ("name", "build", "kept", "skipped", "whole", "reason"),
    [
        ("not-object", lambda: records_text("[1, 2]", denied(6)), ["req-0006"], 1, False, "not a JSON object"),
        ("invalid-json", lambda: records_text(denied(5), '{"eventName": }'), ["req-0005"], 0, False, "invalid JSON"),
        ("not-json", lambda: "this is not JSON", [], 0, True, "expected a JSON object"),
    ],
)  # fmt: skip
def test_each_kind_of_damage_is_skipped_and_reported(
    trail: Path,
    tmp_path: Path,
    name: str,
    build: Callable[[], str],
    kept: list[str],
    skipped: int,
    whole: bool,
    reason: str,
) -> None:
    bad = write_raw(folder(trail) / f"m-{name}.json.gz", build())
    sound = ["req-0001", "req-0002", "req-0003", "req-0004"]
    for rows, damaged in (run_cold(trail), run_ingested(trail, tmp_path / "a.duckdb")):
        assert rows == sorted(sound + kept)
        assert [d.path for d in damaged] == [bad]
        assert damaged[0].records == skipped
        assert damaged[0].whole_file is whole
        assert reason in damaged[0].describe()


WITH_PARAMETERS = NamedQuery(
    name="failed_calls_with_parameters",
    description="Failed calls with their request parameters.",
    sql="SELECT requestid, requestparameters FROM {{table}} "
    "WHERE \"timestamp\" >= date_format(current_date - interval '{{days}}' day, '%Y/%m/%d') AND errorcode IS NOT NULL",
)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_skipped_where_they_are_read(trail: Path, tmp_path: Path, literal: str) -> None:
    # DuckDB's reader accepts these non-standard numbers; the engine refuses them where it reads them
    odd = json.dumps(denied(6)).replace('"n": "6"', f'"n": {literal}')
    assert literal in odd
    bad = write_raw(folder(trail) / "m-odd.json.gz", records_text(denied(5), odd))
    with AuditEngine(trail, today=TODAY) as engine:
        result = engine.run(WITH_PARAMETERS, days=30)
    assert sorted(row[0] for row in result.rows) == ["req-0001", "req-0002", "req-0003", "req-0004", "req-0005"]
    assert [(d.path, d.records) for d in result.damaged] == [(bad, 1)]
    assert f"record 2: {literal} is not standard JSON" in result.damaged[0].describe()
    rows, damaged = run_ingested(trail, tmp_path / "a.duckdb")  # ingest reads every column
    assert rows == ["req-0001", "req-0002", "req-0003", "req-0004", "req-0005"]
    assert [(d.path, d.records) for d in damaged] == [(bad, 1)]
    # a cold query that does not read the column holding the odd number is not affected by it
    assert run_cold(trail) == (["req-0001", "req-0002", "req-0003", "req-0004", "req-0005", "req-0006"], ())


def test_truncated_gzip_keeps_the_records_before_the_cut(trail: Path, tmp_path: Path) -> None:
    many = [denied(i, context={"pad": f"{i:06d}" * 40}) for i in range(100, 160)]
    bad = write_raw(folder(trail) / "m-truncated.json.gz", records_text(*many), keep=0.5)
    rows, damaged = run_cold(trail)
    extra = [r for r in rows if r.startswith("req-01")]
    assert 0 < len(extra) < 60
    assert extra == [f"req-{i:04d}" for i in range(100, 100 + len(extra))]
    assert [d.path for d in damaged] == [bad]
    assert damaged[0].rest_lost and "truncated" in damaged[0].describe()
    assert run_ingested(trail, tmp_path / "a.duckdb")[0] == rows


def test_a_file_that_is_not_gzip_is_skipped_whole(trail: Path) -> None:
    bad = folder(trail) / "m-plain.json.gz"
    bad.write_text(records_text(denied(5)))
    rows, damaged = run_cold(trail)
    assert rows == ["req-0001", "req-0002", "req-0003", "req-0004"]
    assert [(d.path, d.whole_file) for d in damaged] == [(bad, True)]


def test_several_damaged_files_among_many_are_all_found(tmp_path: Path) -> None:
    root = tmp_path / "trail"
    expected = []
    for i in range(40):
        if i % 13 == 5:
            write_raw(folder(root) / f"f{i:03d}.json.gz", records_text('{"x": "\\udc00"}', denied(i)))
        else:
            write_log_file(folder(root) / f"f{i:03d}.json.gz", [denied(i)])
        expected.append(f"req-{i:04d}")
    rows, damaged = run_cold(root)
    assert rows == expected
    assert [d.path.name for d in damaged] == ["f005.json.gz", "f018.json.gz", "f031.json.gz"]


def test_salvaged_records_read_exactly_like_sound_ones(tmp_path: Path) -> None:
    record = denied(7, context={"é": 'ünïcode \\ " /', "n": "1.50"})
    record["additionalEventData"] = {"big": 1e5, "small": 1.50, "list": [True, None, "x"]}
    sound_root, damaged_root = tmp_path / "sound", tmp_path / "damaged"
    write_log_file(folder(sound_root) / "f.json.gz", [record])
    write_raw(folder(damaged_root) / "f.json.gz", records_text(json.dumps(record), '"not a record"'))
    tables = []
    for root in (sound_root, damaged_root):
        with AuditEngine(root, db=root / "a.duckdb", today=TODAY) as engine:
            assert engine.ingest() == 1
            tables.append(engine.execute("SELECT * FROM cloudtrail_logs").rows)
            assert bool(engine.damaged) is (root == damaged_root)
    assert tables[0] == tables[1]


def test_ingest_marks_partly_read_files_done_and_retries_unreadable_ones(trail: Path, tmp_path: Path) -> None:
    write_raw(folder(trail) / "m-partly.json.gz", records_text("7", denied(8)))
    unreadable = folder(trail) / "m-unreadable.json.gz"
    unreadable.write_bytes(b"\x1f\x8b not really gzip")
    db = tmp_path / "a.duckdb"
    with AuditEngine(trail, db=db, today=TODAY) as engine:
        assert engine.ingest() == 5
        assert sorted(d.path.name for d in engine.damaged) == ["m-partly.json.gz", "m-unreadable.json.gz"]
        assert engine.ingest() == 0
        assert [d.path for d in engine.damaged] == [unreadable]  # tried again, reported again
        write_log_file(unreadable, [denied(9)])  # repaired
        assert engine.ingest() == 1
        assert engine.damaged == ()


def test_salvage_reads_record_by_record(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "f.json.gz", '{"Other": [1], "Records": [{"a": 1}, {"b": "\\ud800"}, 3, {"c": [NaN]}]}')
    found = salvage(path, max_size=2**20)
    assert found.records == ['{"a": 1}']
    damage = found.damage()
    assert damage is not None
    assert (damage.records, damage.kept, damage.whole_file, damage.rest_lost) == (3, 1, False, False)
    assert "record 2" in damage.describe() and "record 4: NaN" in damage.describe()
    too_big = salvage(path, max_size=10).damage()
    assert too_big is not None and too_big.whole_file and "larger than 10 bytes" in too_big.describe()
    assert salvage(write_raw(tmp_path / "ok.json.gz", '{"Records": []}'), max_size=100).damage() is None
