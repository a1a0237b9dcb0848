"""``kmslab local`` as a learner runs it: up --detach, env, status, stats, down, restart and kill -9."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config


def _kmslab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kmslab", "local", *args], capture_output=True, text=True, timeout=60, check=False
    )


def _env(data_dir: Path, who: str) -> dict[str, str]:
    out = _kmslab("env", "--as", who, "--data-dir", str(data_dir))
    assert out.returncode == 0, out.stderr
    env: dict[str, str] = {}
    for line in out.stdout.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            env[name] = shlex.split(value)[0]
    return env


def _client(service: str, env: dict[str, str]) -> Any:
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        verify=env["AWS_CA_BUNDLE"],
        config=Config(retries={"max_attempts": 1}),
    )


def _pid(data_dir: Path) -> int:
    return int(json.loads((data_dir / "local.json").read_text())["pid"])


def test_up_env_status_stats_down_and_state_survives_restart_and_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "cloud"
    started = _kmslab("up", "--detach", "--port", "0", "--data-dir", str(data))
    assert started.returncode == 0, started.stderr
    assert "running at https://localhost:" in started.stdout
    env = _env(data, "alice")
    assert env["AWS_ENDPOINT_URL"].startswith("https://localhost:") and env["AWS_CA_BUNDLE"].endswith("ca.pem")
    try:
        key = _client("kms", _env(data, "admin")).create_key()["KeyMetadata"]["KeyId"]
        s3 = _client("s3", env)
        s3.create_bucket(Bucket="kept-bucket")
        s3.put_object(
            Bucket="kept-bucket", Key="note", Body=b"durable", ServerSideEncryption="aws:kms", SSEKMSKeyId=key
        )
        status = _kmslab("status", "--data-dir", str(data))
        assert status.returncode == 0 and "in memory only" in status.stdout and "sqs" in status.stdout
        stats = _kmslab("stats", "--data-dir", str(data))
        assert "S3 -> KMS calls: 1 (GenerateDataKey 1)" in stats.stdout

        down = _kmslab("down", "--data-dir", str(data))
        assert down.returncode == 0 and "stopped" in down.stdout
        assert _kmslab("status", "--data-dir", str(data)).returncode == 3

        assert _kmslab("up", "--detach", "--port", "0", "--data-dir", str(data)).returncode == 0
        env = _env(data, "alice")
        s3 = _client("s3", env)
        assert s3.get_object(Bucket="kept-bucket", Key="note")["Body"].read() == b"durable"
        s3.put_object(Bucket="kept-bucket", Key="after-ack", Body=b"acknowledged")
        os.kill(_pid(data), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _kmslab("status", "--data-dir", str(data)).returncode != 3 and time.monotonic() < deadline:
            time.sleep(0.1)

        assert _kmslab("up", "--detach", "--port", "0", "--data-dir", str(data)).returncode == 0
        s3 = _client("s3", _env(data, "alice"))
        assert s3.get_object(Bucket="kept-bucket", Key="after-ack")["Body"].read() == b"acknowledged"
        assert s3.get_object(Bucket="kept-bucket", Key="note")["SSEKMSKeyId"].endswith(key)
    finally:
        _kmslab("down", "--data-dir", str(data))


def test_second_up_on_the_same_data_dir_is_refused_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "cloud"
    assert _kmslab("up", "--detach", "--port", "0", "--data-dir", str(data)).returncode == 0
    try:
        again = _kmslab("up", "--port", "0", "--data-dir", str(data))
        assert again.returncode == 2
        assert again.stderr.count("\n") == 1 and "already runs" in again.stderr
    finally:
        _kmslab("down", "--data-dir", str(data))


def test_env_names_unknown_identities_and_needs_a_cloud(tmp_path: Path) -> None:
    missing = _kmslab("env", "--as", "alice", "--data-dir", str(tmp_path / "none"))
    assert missing.returncode == 2 and "kmslab local up" in missing.stderr
    assert not (tmp_path / "none").exists()
    assert _kmslab("identities", "--data-dir", str(tmp_path / "ids")).returncode == 0
    out = _kmslab("env", "--as", "mallory", "--data-dir", str(tmp_path / "ids"))
    assert out.returncode == 2 and "mallory" in out.stderr and "alice" in out.stderr


def test_identities_file_with_roles_and_bad_files_fail_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"account": "111122223333", "identities": [], "roles": [{"arn": "not-a-role"}]}))
    out = _kmslab("up", "--port", "0", "--data-dir", str(tmp_path / "d"), "--identities", str(bad))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "roles[0].arn" in out.stderr
    assert not (tmp_path / "d" / "local.pid").exists()


def test_busy_port_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = _kmslab("up", "--port", str(port), "--data-dir", str(tmp_path / "d"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "cannot serve" in out.stderr
