"""A call is answered only once its CloudTrail record is durable; a crash's journal is delivered on start."""

from __future__ import annotations

import base64
import errno
import gzip
import json
import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmslab.kms import LocalKms
from kmslab.kms.server import KmsServer
from kmslab.trail import _segment as segment_module
from kmslab.trail.journal import JOURNAL_DIR, SyncPolicy, decode_frames, encode_frame
from kmslab.trail.record import to_cloudtrail_record
from kmslab.trail.recorder import TrailRecorder, entry_record
from tests.trail.helpers import ACCOUNT, call

pytestmark = pytest.mark.functional


def _journal_records(trail_dir: Path) -> list[dict[str, Any]]:
    records = []
    for segment in sorted((trail_dir / JOURNAL_DIR).glob("seg-*")):
        entries, _ = decode_frames(segment.read_bytes())
        records += [entry_record(entry) for entry in entries]
    return records


def _file_records(trail_dir: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted(trail_dir.rglob("*.json.gz")):
        with gzip.open(path, "rb") as handle:
            records += json.load(handle)["Records"]
    return records


def test_a_call_is_answered_only_once_its_record_is_in_the_journal(tmp_path: Path) -> None:
    kms = LocalKms()
    recorder = TrailRecorder(tmp_path, account=kms.account, flush_interval=3600)
    kms.add_sink(recorder)
    client = kms.boto3_client()
    key_id = client.create_key()["KeyMetadata"]["KeyId"]
    answer = client.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"call": "one"})
    # read back from disk, as a process started after a kill -9 would: no flush, no close
    journaled = _journal_records(tmp_path)
    assert [r["eventName"] for r in journaled] == ["CreateKey", "Encrypt"]
    assert journaled[1]["requestID"] == answer["ResponseMetadata"]["RequestId"]
    assert journaled[1]["requestParameters"]["encryptionContext"] == {"call": "one"}
    assert _file_records(tmp_path) == []  # not folded yet: the journal alone made it durable
    recorder.close()
    assert [r["requestID"] for r in _file_records(tmp_path)] == [r["requestID"] for r in journaled]
    assert _journal_records(tmp_path) == []  # folded segments are deleted
    kms.close()


def test_the_journal_and_the_log_files_hold_no_plaintext(tmp_path: Path) -> None:
    kms = LocalKms()
    recorder = TrailRecorder(tmp_path, account=kms.account, flush_interval=3600)
    kms.add_sink(recorder)
    client = kms.boto3_client()
    key_id = client.create_key()["KeyMetadata"]["KeyId"]
    plaintext = b"PLAINTEXT-canary-7f3a9c"
    ciphertext = client.encrypt(KeyId=key_id, Plaintext=plaintext)["CiphertextBlob"]
    assert client.decrypt(CiphertextBlob=ciphertext)["Plaintext"] == plaintext
    data_key = client.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"]
    random = client.generate_random(NumberOfBytes=48)["Plaintext"]
    secrets = [plaintext, data_key, random]

    def assert_clean(blob: bytes, where: str) -> None:
        for secret in secrets:
            for form in (secret, base64.b64encode(secret), secret.hex().encode()):
                assert form not in blob, f"a secret in {where}"

    segments = list((tmp_path / JOURNAL_DIR).glob("seg-*"))
    assert segments
    for segment in segments:
        assert_clean(segment.read_bytes(), segment.name)
    recorder.close()
    files = list(tmp_path.rglob("*.json.gz"))
    assert files
    for path in files:
        assert_clean(path.read_bytes(), path.name)
        assert_clean(gzip.decompress(path.read_bytes()), path.name)
    kms.close()


def _segment(trail_dir: Path, name: str, payloads: list[bytes], tail: bytes = b"") -> Path:
    folder = trail_dir / JOURNAL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"".join(encode_frame(p) for p in payloads) + tail)
    return path


def test_a_journal_left_by_a_crash_is_folded_on_start_and_a_torn_entry_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records = [json.dumps(to_cloudtrail_record(call("Decrypt", {}, request_id=f"r{i}"))).encode() for i in range(3)]
    torn = encode_frame(b'{"requestID":"torn"}')[:-5]  # a write cut short by the crash: never acknowledged
    _segment(tmp_path, "seg-00000000000000000001-aaaaaaaa.journal", records[:2])
    _segment(tmp_path, "seg-00000000000000000002-bbbbbbbb.journal", records[2:], tail=torn + bytes(100))

    with caplog.at_level(logging.WARNING, logger="kmslab.trail.recorder"):
        recorder = TrailRecorder(tmp_path, account=ACCOUNT, background=False)
    assert sorted(r["requestID"] for r in _file_records(tmp_path)) == ["r0", "r1", "r2"]
    assert "torn last entry" in caplog.text
    assert list((tmp_path / JOURNAL_DIR).glob("seg-*")) == []
    recorder.close()


def test_a_fold_cut_short_by_a_crash_is_redone_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = TrailRecorder(tmp_path, account=ACCOUNT, background=False)
    for i in range(5):
        first(call("Decrypt", {}, request_id=f"r{i}", region="us-east-1" if i % 2 else "eu-west-1"))

    def crash(segment: Path) -> None:  # the log files are written, the segment is not deleted yet
        raise OSError(errno.EIO, "killed")

    monkeypatch.setattr(first._journal, "discard", crash)
    with pytest.raises(OSError, match="killed"):
        first.flush()
    written = sorted(p.name for p in tmp_path.rglob("*.json.gz"))
    assert len(written) == 2  # one per region
    first._journal.release()  # the process is gone: its lock with it

    second = TrailRecorder(tmp_path, account=ACCOUNT, background=False)
    assert sorted(p.name for p in tmp_path.rglob("*.json.gz")) == written  # the same files, rewritten
    ids = sorted(r["requestID"] for r in _file_records(tmp_path))
    assert ids == ["r0", "r1", "r2", "r3", "r4"]
    second.close()


@pytest.mark.parametrize(
    ("sync", "failing"),
    [("write", "_pwrite"), ("fsync", "_sync")],  # write: the write is what the answer waits for; fsync: the sync too
)
def test_a_call_whose_record_cannot_be_kept_is_not_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sync: SyncPolicy, failing: str
) -> None:
    kms = LocalKms()
    recorder = TrailRecorder(tmp_path, account=kms.account, flush_interval=3600, sync=sync)
    kms.add_sink(recorder)
    with KmsServer(kms, port=0) as server:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "kms",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="AKIAEXAMPLE",
            aws_secret_access_key="secret",
            config=Config(retries={"total_max_attempts": 1}),
        )
        created = client.create_key()
        key_id = created["KeyMetadata"]["KeyId"]

        def full_disk(fd: int, *args: object) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        recorder.flush()  # the next record starts a segment: its file is written then (write), or synced (fsync)
        monkeypatch.setattr(segment_module, failing, full_disk)
        with pytest.raises(ClientError) as refused:
            client.encrypt(KeyId=key_id, Plaintext=b"x")
        error = refused.value.response
        assert error["Error"]["Code"] == "DependencyTimeoutException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert "could not be written" in error["Error"]["Message"]
        monkeypatch.undo()
        answered = client.encrypt(KeyId=key_id, Plaintext=b"x")  # the disk is back: calls are answered again
    recorder.close()
    recorded = {r["requestID"]: r["eventName"] for r in _file_records(tmp_path)}
    assert recorded == {  # the refused call left no record
        created["ResponseMetadata"]["RequestId"]: "CreateKey",
        answered["ResponseMetadata"]["RequestId"]: "Encrypt",
    }


def test_log_files_and_folders_are_owner_only(tmp_path: Path) -> None:
    trail_dir = tmp_path / "trail"
    with TrailRecorder(trail_dir, account=ACCOUNT, background=False) as recorder:
        recorder(call("Decrypt", {}))
    files = list(trail_dir.rglob("*.json.gz"))
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        folder = path.parent
        while folder != tmp_path:
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
            folder = folder.parent
