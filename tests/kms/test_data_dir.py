"""The data directory on disk: private modes, an atomic root key, and one clear line for every kind of damage.

Issue 11 items 10 and 11.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from kmslab._fsutil import private_dir, private_file, write_private_atomic
from kmslab.cli import main
from kmslab.kms import LocalKms
from kmslab.kms._clockfile import SavedOffsetClock
from kmslab.kms._store import DB_FILE, ROOT_KEY_FILE, DamagedStoreError
from kmslab.kms.server import KmsServer


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def run_serve(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ``kmslab kms serve`` on a damaged directory: it must stop before serving, with one line."""
    with pytest.MonkeyPatch.context() as patch:  # if it does start serving, stop at once (exit 0: the test fails)
        patch.setattr(KmsServer, "serve_forever", KmsServer.stop)
        return _run_serve(data_dir, capsys)


def _run_serve(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        status = main(["kms", "serve", "--port", "0", "--data-dir", str(data_dir)])
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    assert out == ""
    return status, err


def make_store(data_dir: Path, keys: int = 1) -> list[str]:
    kms = LocalKms(data_dir)
    try:
        return [kms.call("CreateKey", {"Description": "x" * 2000})["KeyMetadata"]["KeyId"] for _ in range(keys)]
    finally:
        kms.close()


# -- item 11: modes --------------------------------------------------------------------------


def test_data_dir_files_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "a" / "kms"
    old = os.umask(0o022)
    try:
        clock = SavedOffsetClock(data_dir)
        kms = LocalKms(data_dir, clock=clock)
        kms.call("CreateKey", {})
        kms.advance_time(timedelta(seconds=5))
        wal = data_dir / (DB_FILE + "-wal")
        shm = data_dir / (DB_FILE + "-shm")
        assert wal.exists() and shm.exists()
        files = [data_dir / ROOT_KEY_FILE, data_dir / DB_FILE, wal, shm, data_dir / "clock-offset.json"]
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        kms.close()
    finally:
        os.umask(old)
    assert mode(data_dir) == 0o700
    assert mode(tmp_path / "a") == 0o700  # a parent the store created


def test_existing_loose_files_are_tightened(tmp_path: Path) -> None:
    data_dir = tmp_path / "kms"
    make_store(data_dir)
    os.chmod(data_dir, 0o755)
    os.chmod(data_dir / DB_FILE, 0o644)
    LocalKms(data_dir).close()
    assert (mode(data_dir), mode(data_dir / DB_FILE)) == (0o700, 0o600)


def test_fsutil_helpers_for_the_trail_writer(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        trail = private_dir(tmp_path / "trail" / "AWSLogs")
        written = write_private_atomic(trail / "log.json.gz", b"abc")
        touched = private_file(trail / "journal")
    finally:
        os.umask(old)
    assert (mode(tmp_path / "trail"), mode(trail)) == (0o700, 0o700)
    assert (mode(written), mode(touched)) == (0o600, 0o600)
    assert written.read_bytes() == b"abc" and touched.read_bytes() == b""
    write_private_atomic(written, b"new")
    assert written.read_bytes() == b"new"
    with pytest.raises(FileExistsError):
        write_private_atomic(written, b"other", replace=False)
    assert written.read_bytes() == b"new"
    assert [p.name for p in trail.iterdir() if p.name.endswith(".tmp")] == []
    private_dir(tmp_path)  # an existing shared parent is accepted as it is


# -- item 10: the root key is written atomically, damage is one line -------------------------


def test_root_key_is_never_left_torn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "kms"

    def crash(fd: int) -> None:  # the power goes out before the key reached the disk
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        LocalKms(data_dir)
    monkeypatch.undo()
    assert not (data_dir / ROOT_KEY_FILE).exists()
    assert [p.name for p in data_dir.iterdir() if p.name.endswith(".tmp")] == []
    make_store(data_dir)
    assert len((data_dir / ROOT_KEY_FILE).read_bytes()) == 32


@pytest.mark.parametrize("content", [b"", b"\x00" * 7, b"k" * 33], ids=["empty", "short", "long"])
def test_torn_root_key_is_one_line(tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "kms"
    make_store(data_dir)
    (data_dir / ROOT_KEY_FILE).write_bytes(content)
    status, err = run_serve(data_dir, capsys)
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert f"{data_dir / ROOT_KEY_FILE} is damaged ({len(content)} bytes" in err
    assert "restore it from a backup" in err
    assert (data_dir / ROOT_KEY_FILE).read_bytes() == content  # untouched


def test_deleted_root_key_with_keys_is_refused_not_replaced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "kms"
    make_store(data_dir, keys=2)
    (data_dir / ROOT_KEY_FILE).unlink()
    status, err = run_serve(data_dir, capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{data_dir / ROOT_KEY_FILE} is missing, but {data_dir / DB_FILE} holds 2 key(s)" in err
    assert not (data_dir / ROOT_KEY_FILE).exists()
    with pytest.raises(DamagedStoreError):
        LocalKms(data_dir)


def test_replaced_root_key_names_the_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "kms"
    make_store(data_dir)
    (data_dir / ROOT_KEY_FILE).write_bytes(os.urandom(32))
    with pytest.raises(DamagedStoreError, match="does not open the key material in"):
        LocalKms(data_dir)


def test_root_key_recreated_when_the_database_holds_no_keys(tmp_path: Path) -> None:
    data_dir = tmp_path / "kms"
    LocalKms(data_dir).close()
    (data_dir / ROOT_KEY_FILE).unlink()
    make_store(data_dir)
    assert len((data_dir / ROOT_KEY_FILE).read_bytes()) == 32


def _corrupt(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[:16] = b"not a database!!"
    db.write_bytes(bytes(data))


def _truncate(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage", [_corrupt, _truncate], ids=["corrupted", "truncated"])
def test_damaged_sqlite_is_one_line(tmp_path: Path, damage: object, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "kms"
    make_store(data_dir, keys=40)
    db = data_dir / DB_FILE
    with sqlite3.connect(db) as conn:  # fold the WAL into the database file, then damage that file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert callable(damage)
    damage(db)
    status, err = run_serve(data_dir, capsys)
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert f"{db} is damaged" in err and "restore it" in err


def test_clock_offset_past_the_bound_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "kms"
    make_store(data_dir)
    (data_dir / "clock-offset.json").write_text(json.dumps({"offsetSeconds": 80 * 100 * 366 * 24 * 3600}))
    status, err = run_serve(data_dir, capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "moves the clock past 9900-01-01" in err and "delete" in err
