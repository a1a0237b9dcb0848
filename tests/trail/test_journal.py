"""The trail journal: framing, torn tails, group commit, failed writes, one process per trail directory."""

from __future__ import annotations

import errno
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kmslab.trail import _segment as segment_module
from kmslab.trail.journal import JOURNAL_DIR, Journal, JournalInUse, SyncPolicy, decode_frames, encode_frame

pytestmark = pytest.mark.unit


def _entries(segment: Path) -> list[bytes]:
    entries, torn = decode_frames(segment.read_bytes())
    assert torn == 0
    return entries


def test_frames_round_trip_and_trailing_zeros_are_a_clean_end() -> None:
    payloads = [b"", b"a", b'{"eventName":"Encrypt"}', bytes(range(256)) * 10]
    data = b"".join(encode_frame(p) for p in payloads)
    assert decode_frames(data) == (payloads, 0)
    assert decode_frames(data + bytes(4096)) == (payloads, 0)


def test_every_torn_last_entry_is_detected_and_dropped() -> None:
    first, last = encode_frame(b'{"requestID":"kept"}'), encode_frame(b'{"requestID":"torn"}')
    for cut in range(1, len(last)):
        for tail in (b"", bytes(64)):  # torn at the end of the file, or inside the zeros written ahead
            entries, torn = decode_frames(first + last[:cut] + tail)
            assert entries == [b'{"requestID":"kept"}'], cut
            assert torn == cut + len(tail), cut


def test_a_damaged_entry_fails_its_checksum() -> None:
    frame = bytearray(encode_frame(b'{"requestID":"r1"}'))
    frame[-3] ^= 0x01  # one bit of the payload
    assert decode_frames(bytes(frame)) == ([], len(frame))
    longer = bytearray(encode_frame(b"abc") + bytes(16))
    longer[7] += 1  # the length: the checksum covers it too
    assert decode_frames(bytes(longer))[0] == []


def test_appends_are_durable_in_order_and_rotation_seals_the_segment(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    for i in range(5):
        journal.append(f"e{i}".encode())
    assert journal.active_entries == 5
    assert journal.rotate(at_least=6) is None  # not full yet
    sealed = journal.rotate(at_least=5)
    assert sealed is not None and sealed.parent == tmp_path / JOURNAL_DIR
    assert _entries(sealed) == [f"e{i}".encode() for i in range(5)]
    assert journal.active_entries == 0
    assert journal.rotate() is None  # nothing to seal; no empty segment is created
    journal.append(b"next")
    assert journal.close() is not None
    assert [_entries(s) for s in journal.sealed()] == [[f"e{i}".encode() for i in range(5)], [b"next"]]
    with pytest.raises(RuntimeError, match="closed"):
        journal.append(b"late")
    journal.release()


def test_concurrent_appends_share_syncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    syncs = 0
    real_sync = segment_module._sync
    gate = threading.Event()

    def slow_sync(fd: int) -> None:
        nonlocal syncs
        syncs += 1
        gate.wait(0.005)  # a disk that takes 5 ms per sync: callers pile up behind it
        real_sync(fd)

    monkeypatch.setattr(segment_module, "_sync", slow_sync)
    journal = Journal(tmp_path, sync="fsync")
    barrier = threading.Barrier(16)

    def work(n: int) -> None:
        barrier.wait()
        for i in range(25):
            journal.append(f"{n}-{i}".encode())

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    segment = journal.rotate()
    assert segment is not None
    entries = _entries(segment)
    assert sorted(entries) == sorted(f"{n}-{i}".encode() for n in range(16) for i in range(25))
    assert syncs < len(entries) / 4  # group commit: 400 appends, far fewer syncs
    journal.close()
    journal.release()


@pytest.mark.parametrize(
    ("sync", "failing"),
    [("write", "_pwrite"), ("fsync", "_pwrite"), ("fsync", "_sync")],  # what an append waits for, failing
)
def test_a_failed_write_is_not_acknowledged_and_later_appends_still_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sync: SyncPolicy, failing: str
) -> None:
    journal = Journal(tmp_path, sync=sync, sync_interval=3600)
    journal.append(b"before")
    if sync == "write":  # entries are copied into the mapped segment: the disk is written when a segment starts
        journal.rotate()

    def full_disk(fd: int, *args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(segment_module, failing, full_disk)
        with pytest.raises(OSError, match="No space"):
            journal.append(b"refused")
    journal.append(b"after")
    journal.close()
    journal.release()
    assert [_entries(s) for s in journal.sealed()] == [[b"before"], [b"after"]]


def test_write_a_segment_that_cannot_grow_is_sealed_and_the_entry_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path, sync="write", sync_interval=3600)
    big = bytes(range(256)) * 2400  # 600 KiB: the second one needs more than the first MiB written ahead
    journal.append(big)

    def full_disk(fd: int, *args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(segment_module, "_pwrite", full_disk)
        with pytest.raises(OSError, match="No space"):
            journal.append(big + b"refused")
    assert journal.active_entries == 0  # sealed: the next entry starts a fresh segment
    journal.append(b"after")
    journal.close()
    journal.release()
    assert [_entries(s) for s in journal.sealed()] == [[big], [b"after"]]


def test_files_and_folder_are_owner_only(tmp_path: Path) -> None:
    with Journal(tmp_path / "trail") as journal:
        journal.append(b"x")
        assert stat.S_IMODE(journal.directory.stat().st_mode) == 0o700
        assert stat.S_IMODE((tmp_path / "trail").stat().st_mode) == 0o700
        segments = list(journal.directory.glob("seg-*"))
        assert segments and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in segments)
        assert stat.S_IMODE((journal.directory / "lock").stat().st_mode) == 0o600


def test_one_process_per_trail_directory(tmp_path: Path) -> None:
    first = Journal(tmp_path)
    with pytest.raises(JournalInUse, match="in use by another process"):
        Journal(tmp_path)
    first.close()
    first.release()
    second = Journal(tmp_path)  # released: the next one may open it
    second.close()
    second.release()


def test_serve_on_a_trail_directory_in_use_is_one_line_and_status_2(tmp_path: Path) -> None:
    holder = Journal(tmp_path / "trail")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "kmslab", "kms", "serve", "--port", "0"]
            + ["--data-dir", str(tmp_path / "kms"), "--trail-dir", str(tmp_path / "trail")],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.close()
        holder.release()
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "is in use by another process" in result.stderr
    assert "Traceback" not in result.stderr
