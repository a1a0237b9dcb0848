"""The journal's sync policies: ``fsync`` syncs before an append returns, ``write`` within its interval."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kmslab.endpoint import build_endpoint
from kmslab.kms.cli import kms
from kmslab.trail import _segment as segment_module
from kmslab.trail.journal import DEFAULT_SYNC, DEFAULT_SYNC_INTERVAL, Journal, SyncPolicy, decode_frames
from kmslab.trail.recorder import TrailRecorder
from tests.trail.helpers import ACCOUNT, call

pytestmark = pytest.mark.unit


class SyncCounter:
    """Counts the journal's syncs (fdatasync of segments and fsync of segments and the directory)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.times: list[float] = []
        self._lock = threading.Lock()
        real_sync, real_fsync = segment_module._sync, os.fsync

        def counted_sync(fd: int) -> None:
            self._note()
            real_sync(fd)

        def counted_fsync(fd: int) -> None:
            self._note()
            real_fsync(fd)

        monkeypatch.setattr(segment_module, "_sync", counted_sync)
        monkeypatch.setattr(os, "fsync", counted_fsync)  # the journal's zero-fill and directory syncs

    def _note(self) -> None:
        with self._lock:
            self.times.append(time.monotonic())

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.times)


def _segment_entries(journal: Journal) -> list[bytes]:
    entries: list[bytes] = []
    for segment in sorted(journal.directory.glob("seg-*")):
        entries += decode_frames(segment.read_bytes())[0]
    return entries


def test_the_default_is_write_within_50_ms() -> None:
    assert DEFAULT_SYNC == "write"
    assert DEFAULT_SYNC_INTERVAL == 0.05


def test_fsync_syncs_every_append_before_it_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = SyncCounter(monkeypatch)
    journal = Journal(tmp_path, sync="fsync")
    for i in range(3):
        before = counter.count
        journal.append(f"e{i}".encode())
        assert counter.count > before  # synced before the append returned
    journal.close()
    journal.release()


def test_write_returns_before_any_sync_and_the_entry_is_already_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = SyncCounter(monkeypatch)
    journal = Journal(tmp_path, sync="write", sync_interval=3600)  # the syncer will not run during the test
    for i in range(3):
        journal.append(f"e{i}".encode())
    assert counter.count == 0  # no sync on the call's path: not even the new segment's zeros or name
    # written: another reader (a process started after a kill -9) sees every entry, with no close or flush
    assert _segment_entries(journal) == [b"e0", b"e1", b"e2"]
    journal.close()  # a clean stop syncs what was written
    assert counter.count >= 1
    journal.release()


def test_the_background_syncer_syncs_within_its_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = SyncCounter(monkeypatch)
    interval = 0.05
    journal = Journal(tmp_path, sync="write", sync_interval=interval)
    try:
        for _ in range(3):  # three bursts, each synced on its own
            time.sleep(interval * 2)  # the syncer has nothing to do: it does not sync
            idle = counter.count
            written = time.monotonic()
            journal.append(b"x")
            deadline = written + 5
            while counter.count == idle and time.monotonic() < deadline:
                time.sleep(0.001)
            assert counter.count > idle
            # within one interval plus scheduling slack (the machine running the tests may be busy)
            assert counter.times[idle] - written < interval + 0.5
        quiet = counter.count
        time.sleep(interval * 4)
        assert counter.count == quiet  # nothing written since: nothing synced
    finally:
        journal.close()
        journal.release()


def test_sealing_syncs_the_segment_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = SyncCounter(monkeypatch)
    journal = Journal(tmp_path, sync="write", sync_interval=3600)
    journal.append(b"a")
    assert counter.count == 0
    sealed = journal.rotate()
    assert sealed is not None and counter.count >= 1
    journal.sync()  # nothing left to sync
    synced = counter.count
    journal.sync()
    assert counter.count == synced
    journal.close()
    journal.release()


def test_a_recorder_passes_its_policy_to_the_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = SyncCounter(monkeypatch)
    for sync, synced_per_call in (("write", False), ("fsync", True)):
        recorder = TrailRecorder(tmp_path / sync, account=ACCOUNT, flush_interval=3600, sync=sync, sync_interval=3600)
        before = counter.count
        recorder(call("Decrypt", {}, request_id=f"r-{sync}"))
        assert (counter.count > before) is synced_per_call, sync
        recorder.close()
        assert counter.count > before  # a clean stop syncs (and folds) what was written


def test_invalid_policies_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="write, fsync"):
        Journal(tmp_path, sync="never")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sync_interval"):
        Journal(tmp_path, sync_interval=0)


@pytest.mark.parametrize("sync", ["write", "fsync"])
def test_build_endpoint_threads_the_policy_through(tmp_path: Path, sync: SyncPolicy) -> None:
    endpoint = build_endpoint(data_dir=None, trail_dir=tmp_path, port=0, trail_sync=sync)
    try:
        assert endpoint.recorder is not None
        assert endpoint.recorder.sync_policy == sync
    finally:
        endpoint.server.stop()


def test_serve_documents_and_checks_the_option() -> None:
    runner = CliRunner()
    shown = runner.invoke(kms, ["serve", "--help"])
    assert shown.exit_code == 0
    text = " ".join(shown.output.split())
    assert "--trail-sync [write|fsync]" in text
    assert "[default: write]" in text
    assert "kill -9" in text and "power loss" in text
    refused = runner.invoke(kms, ["serve", "--trail-sync", "never"])
    assert refused.exit_code == 2
    assert "'never' is not one of 'write', 'fsync'" in refused.output
