"""Journal entries: a grouping key, then the record's standard JSON, which goes into a log file as it is."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from kmslab.trail.journal import JOURNAL_DIR, decode_frames
from kmslab.trail.recorder import TrailRecorder, entry_record, journal_entry, split_entry
from tests.trail.helpers import ACCOUNT, call

pytestmark = pytest.mark.unit


def test_an_entry_is_its_key_then_its_record() -> None:
    record = {"eventTime": "2026-01-02T03:04:05Z", "awsRegion": "eu-west-1", "note": 'é "quoted"\nline'}
    entry = journal_entry(record)
    region, event_time, body = split_entry(entry)
    assert (region, event_time) == ("eu-west-1", "2026-01-02T03:04:05Z")
    assert json.loads(body) == record == entry_record(entry)
    assert body.decode("utf-8")  # UTF-8, standard JSON
    assert entry.count(b"\n") == 1  # only the key's end: JSON strings escape line breaks


def test_an_entry_of_the_earlier_format_is_read_too() -> None:
    record = {"eventTime": "2026-01-02T03:04:05Z", "awsRegion": "us-east-1"}
    old = json.dumps(record).encode()
    assert split_entry(old) == ("us-east-1", "2026-01-02T03:04:05Z", old)


@pytest.mark.parametrize("bad", [{"x": math.nan}, {"x": math.inf}, {"x": "\ud800"}, {"awsRegion": "\udfff"}])
def test_an_entry_is_standard_json_or_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        journal_entry(bad)


@pytest.mark.parametrize("damaged", [b'["a"]\n{}', b"[1,2]\n{}", b'["a","b"]', b'["a","b"]\n[]', b"nonsense"])
def test_a_damaged_entry_is_refused(damaged: bytes) -> None:
    with pytest.raises(ValueError):
        split_entry(damaged)


def test_the_log_file_holds_the_journaled_json_byte_for_byte(tmp_path: Path) -> None:
    recorder = TrailRecorder(tmp_path, account=ACCOUNT, background=False, flush_interval=3600)
    for i in range(3):
        recorder(call("Decrypt", {"EncryptionContext": {"k": f"välue-{i}"}}, request_id=f"r{i}"))
    (segment,) = (tmp_path / JOURNAL_DIR).glob("seg-*")
    bodies = [split_entry(entry)[2] for entry in decode_frames(segment.read_bytes())[0]]
    recorder.close()
    (log_file,) = tmp_path.rglob("*.json.gz")
    assert gzip.decompress(log_file.read_bytes()) == b'{"Records":[' + b",".join(bodies) + b"]}"
    records = json.loads(gzip.decompress(log_file.read_bytes()))["Records"]
    assert [r["requestParameters"]["encryptionContext"]["k"] for r in records] == ["välue-0", "välue-1", "välue-2"]
