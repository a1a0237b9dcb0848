"""The recorder writes real CloudTrail log files: layout, names, flushing, atomicity, thread safety."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kmslab.trail.journal import JOURNAL_DIR
from kmslab.trail.recorder import TrailRecorder
from tests.trail.helpers import ACCOUNT, KEY_ARN, PLAINTEXT_B64, REGION, call

pytestmark = pytest.mark.unit

NAME = re.compile(
    rf"^{ACCOUNT}_CloudTrail_(?P<region>[a-z0-9-]+)_(?P<stamp>\d{{8}}T\d{{4}}Z)_[A-Za-z0-9]{{16}}\.json\.gz$"
)


def _read(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rb") as handle:
        document = json.load(handle)
    assert set(document) == {"Records"}
    records: list[dict[str, Any]] = document["Records"]
    return records


def _all_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.json.gz"))


def test_files_follow_the_cloudtrail_layout_and_name(tmp_path: Path) -> None:
    when = datetime(2026, 2, 28, 23, 59, 30, tzinfo=UTC)
    recorder = TrailRecorder(tmp_path, account=ACCOUNT, background=False)
    recorder(call("Encrypt", {"KeyId": KEY_ARN, "Plaintext": PLAINTEXT_B64}, when=when))
    recorder(call("Decrypt", {}, when=when + timedelta(seconds=40), request_id="req-2"))  # next day
    recorder(call("Decrypt", {}, when=when, region="eu-west-1", request_id="req-3"))
    recorder.close()

    files = _all_files(tmp_path)
    assert len(files) == 3
    relative = {str(p.parent.relative_to(tmp_path)) for p in files}
    assert relative == {
        f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/02/28",
        f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/03/01",
        f"AWSLogs/{ACCOUNT}/CloudTrail/eu-west-1/2026/02/28",
    }
    for path in files:
        match = NAME.match(path.name)
        assert match, path.name
        assert match["region"] == path.parent.parent.parent.parent.name
        records = _read(path)
        assert match["stamp"] == records[0]["eventTime"][:16].replace("-", "").replace(":", "") + "Z"
        assert PLAINTEXT_B64 not in json.dumps(records)
    by_request = {r["requestID"]: r for p in files for r in _read(p)}
    assert set(by_request) == {"req-1", "req-2", "req-3"}
    assert by_request["req-2"]["eventTime"] == "2026-03-01T00:00:10Z"


def test_background_thread_flushes_within_the_interval(tmp_path: Path) -> None:
    recorder = TrailRecorder(tmp_path, account=ACCOUNT, flush_interval=0.1)
    try:
        recorder(call("Encrypt", {"KeyId": KEY_ARN}))
        deadline = time.monotonic() + 5
        while not _all_files(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.02)
        files = _all_files(tmp_path)
        assert len(files) == 1
        assert [r["eventName"] for r in _read(files[0])] == ["Encrypt"]
    finally:
        recorder.close()


def test_nothing_is_written_before_the_interval_and_close_writes_the_rest(tmp_path: Path) -> None:
    recorder = TrailRecorder(tmp_path, account=ACCOUNT, flush_interval=60)
    for i in range(5):
        recorder(call("Decrypt", {}, request_id=f"r{i}"))
    assert _all_files(tmp_path) == []  # still buffered
    recorder.close()
    files = _all_files(tmp_path)
    assert [r["requestID"] for p in files for r in _read(p)] == [f"r{i}" for i in range(5)]
    with pytest.raises(RuntimeError):
        recorder.record({"eventTime": "2026-01-01T00:00:00Z", "awsRegion": REGION})


def test_a_full_file_is_written_at_once(tmp_path: Path) -> None:
    recorder = TrailRecorder(tmp_path, account=ACCOUNT, background=False, max_records_per_file=3)
    for i in range(7):
        recorder(call("Decrypt", {}, request_id=f"r{i}"))
    assert [len(_read(p)) for p in recorder.files] == [3, 3]
    recorder.close()
    assert sorted(len(_read(p)) for p in recorder.files) == [1, 3, 3]


def test_a_failed_write_leaves_no_file_and_keeps_the_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = TrailRecorder(tmp_path, account=ACCOUNT, background=False)
    recorder(call("Decrypt", {}, request_id="kept"))
    original = gzip.GzipFile.write

    def broken(self: gzip.GzipFile, data: Any) -> int:
        original(self, data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(gzip.GzipFile, "write", broken)
    with pytest.raises(OSError, match="disk full"):
        recorder.flush()
    outside_journal = [p for p in tmp_path.rglob("*") if p.is_file() and JOURNAL_DIR not in p.parts]
    assert outside_journal == []  # no torn log file, no temporary left
    monkeypatch.setattr(gzip.GzipFile, "write", original)
    recorder.close()
    assert [r["requestID"] for p in _all_files(tmp_path) for r in _read(p)] == ["kept"]


def test_a_killed_process_never_leaves_a_torn_file(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, sys, threading
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from kmslab.trail.recorder import TrailRecorder
        from tests.trail.helpers import call
        recorder = TrailRecorder({str(tmp_path)!r}, account="111122223333", flush_interval=0.01,
                                 max_records_per_file=50)
        def work(n):
            for i in range(100000):
                recorder(call("Decrypt", {{}}, request_id=f"t{{n}}-{{i}}"))
        for n in range(3):
            threading.Thread(target=work, args=(n,), daemon=True).start()
        print("started", flush=True)
        threading.Event().wait()
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 20
    while len(_all_files(tmp_path)) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()  # SIGKILL: no cleanup, possibly mid-write
    process.wait()
    files = _all_files(tmp_path)
    assert len(files) >= 5
    for path in files:
        assert _read(path)  # every visible file is complete gzip JSON


def test_concurrent_calls_are_each_recorded_exactly_once(tmp_path: Path) -> None:
    recorder = TrailRecorder(tmp_path, account=ACCOUNT, flush_interval=0.05, max_records_per_file=37)
    seen: list[str] = []
    recorder.subscribe(lambda event: seen.append(event["detail"]["requestID"]))

    def work(n: int) -> None:
        for i in range(200):
            recorder(call("Encrypt", {"KeyId": KEY_ARN}, request_id=f"{n}-{i}"))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    ids = [r["requestID"] for p in _all_files(tmp_path) for r in _read(p)]
    expected = {f"{n}-{i}" for n in range(8) for i in range(200)}
    assert len(ids) == 1600
    assert set(ids) == expected
    assert sorted(seen) == sorted(expected)
    assert len(recorder.records()) == 1600


def test_recent_records_are_bounded(tmp_path: Path) -> None:
    recorder = TrailRecorder(tmp_path, account=ACCOUNT, background=False, recent_limit=3)
    for i in range(5):
        recorder(call("Decrypt", {}, request_id=f"r{i}"))
    assert [r["requestID"] for r in recorder.records()] == ["r2", "r3", "r4"]
    recorder.close()


def test_a_bad_call_never_raises_into_the_engine(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    recorder = TrailRecorder(tmp_path, account=ACCOUNT, background=False)
    bad = call("Decrypt", {})
    object.__setattr__(bad, "event_time", "not a datetime")
    recorder(bad)  # must not raise
    assert "could not record" in caplog.text
    recorder.close()


def test_invalid_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="flush_interval"):
        TrailRecorder(tmp_path, account=ACCOUNT, flush_interval=0)
    with pytest.raises(ValueError, match="max_records_per_file"):
        TrailRecorder(tmp_path, account=ACCOUNT, max_records_per_file=0)
