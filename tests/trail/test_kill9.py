"""kill -9 of ``kmslab kms serve --trail-dir`` under load: every acknowledged call keeps exactly one record."""

from __future__ import annotations

import gzip
import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

pytestmark = [pytest.mark.functional, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
_URL = re.compile(r"http://[0-9.:\[\]]+")


def _serve(data_dir: Path, trail_dir: Path, sync: str = "write") -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "kmslab", "kms", "serve", "--port", "0", "--trail-sync", sync]
    process = subprocess.Popen(
        [*command, "--data-dir", str(data_dir), "--trail-dir", str(trail_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = _URL.search(line)
    if match is None:
        process.kill()
        raise AssertionError(f"the server did not start: {line!r} {process.communicate()[1]!r}")
    return process, match.group(0)


def _client(url: str) -> Any:
    return boto3.session.Session().client(
        "kms",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=10),
    )


def _records(trail_dir: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted(trail_dir.rglob("*.json.gz")):
        with gzip.open(path, "rb") as handle:
            records += json.load(handle)["Records"]
    return records


@pytest.mark.parametrize("sync", ["write", "fsync"])  # write: the default
def test_every_acknowledged_call_has_one_record_after_kill_9(tmp_path: Path, sync: str) -> None:
    data_dir, trail_dir = tmp_path / "kms", tmp_path / "trail"
    process, url = _serve(data_dir, trail_dir, sync)
    key_id = _client(url).create_key()["KeyMetadata"]["KeyId"]
    acknowledged: dict[str, str] = {}  # requestID -> the call's unique encryption-context value
    lock = threading.Lock()
    stop = threading.Event()
    clients = [_client(url) for _ in range(4)]

    def work(kms: Any) -> None:
        while not stop.is_set():
            token = uuid.uuid4().hex
            try:
                answer = kms.encrypt(KeyId=key_id, Plaintext=b"p", EncryptionContext={"call": token})
            except (BotoCoreError, ClientError, OSError):  # cut by the kill: not acknowledged
                return
            with lock:
                acknowledged[answer["ResponseMetadata"]["RequestId"]] = token

    threads = [threading.Thread(target=work, args=(kms,)) for kms in clients]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)  # mid-load: calls in flight, records maybe mid-write
    process.communicate()
    stop.set()
    for thread in threads:
        thread.join(30)
    assert len(acknowledged) >= 150

    restarted, _ = _serve(data_dir, trail_dir)  # its recorder folds what the killed one journaled
    try:
        records = _records(trail_dir)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.communicate(timeout=30)
    by_request: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_request.setdefault(record["requestID"], []).append(record)
    missing = [request_id for request_id in acknowledged if request_id not in by_request]
    assert missing == []
    duplicated = [request_id for request_id, found in by_request.items() if len(found) > 1]
    assert duplicated == []
    for request_id, token in acknowledged.items():
        (record,) = by_request[request_id]
        assert record["eventName"] == "Encrypt"
        assert record["requestParameters"]["encryptionContext"] == {"call": token}


def test_the_short_soak_loses_nothing_over_five_kills() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "soak" / "soak.py"), "--kills", "5", "--max-run", "1.0", "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    figures = result.stdout
    assert "kills 5 under load" in figures
    assert "lost writes 0; lost records 0; duplicated records 0; integrity failures 0" in figures
    acknowledged = re.search(r"acknowledged writes (\d+); acknowledged calls (\d+)", figures)
    assert acknowledged is not None
    assert int(acknowledged.group(1)) > 0 and int(acknowledged.group(2)) > 0
    assert figures.rstrip().endswith("soak: OK")
