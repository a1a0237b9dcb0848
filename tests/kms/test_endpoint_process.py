"""``kmslab kms serve`` as a real process: keys survive kill -9, signals stop it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

KMSLAB = str(Path(sys.executable).with_name("kmslab"))


@contextmanager
def serve(data_dir: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run ``kmslab kms serve --port 0``; yield the process and its URL (read from its first line)."""
    proc = subprocess.Popen(
        [KMSLAB, "kms", "serve", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "AWS_ENDPOINT_URL_KMS=http://127.0.0.1:" in line, (line, proc.stderr.read() if proc.stderr else "")
        url = line.split("AWS_ENDPOINT_URL_KMS=", 1)[1].split()[0]
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def client(url: str) -> Any:
    return boto3.client("kms", endpoint_url=url, region_name="us-east-1", config=Config(retries={"max_attempts": 1}))


def test_keys_survive_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "kms"
    with serve(data_dir) as (proc, url):
        kms = client(url)
        key_id = kms.create_key(Description="survivor")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/survivor", TargetKeyId=key_id)
        kms.rotate_key_on_demand(KeyId=key_id)
        blob = kms.encrypt(KeyId="alias/survivor", Plaintext=b"written before the crash")["CiphertextBlob"]
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    with serve(data_dir) as (proc, url):
        kms = client(url)
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"written before the crash"
        meta = kms.describe_key(KeyId="alias/survivor")["KeyMetadata"]
        assert (meta["KeyId"], meta["Description"]) == (key_id, "survivor")
        assert len(kms.list_key_rotations(KeyId=key_id)["Rotations"]) == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_the_server_cleanly(tmp_path: Path, signum: int) -> None:
    with serve(tmp_path / "kms") as (proc, url):
        key_id = client(url).create_key()["KeyMetadata"]["KeyId"]
        proc.send_signal(signum)
        assert proc.wait(10) == 0
        assert proc.stderr is not None
        assert proc.stderr.read().strip() == "kmslab kms: stopped"
    with serve(tmp_path / "kms") as (proc, url):
        assert client(url).describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_advance_time_completes_a_pending_deletion_and_survives_kill_9(tmp_path: Path) -> None:
    with serve(tmp_path / "kms") as (proc, url):
        kms = client(url)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        done = subprocess.run(
            [KMSLAB, "kms", "advance-time", "--days", "8", "--data-dir", str(tmp_path / "kms")],
            capture_output=True,
            text=True,
            env={**os.environ, "AWS_ENDPOINT_URL_KMS": url},
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("local KMS time is now ")
        proc.send_signal(signal.SIGKILL)  # before any request could apply the deletion
        proc.wait(10)
    with serve(tmp_path / "kms") as (proc, url):
        kms = client(url)
        assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == []
        with pytest.raises(ClientError) as exc:
            kms.describe_key(KeyId=key_id)
        assert exc.value.response["Error"]["Code"] == "NotFoundException"
