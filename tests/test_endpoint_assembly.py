"""The composed endpoint: ``kmslab kms serve --trail-dir --identities`` and :func:`kmslab.endpoint.build_endpoint`."""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from kmslab.endpoint import build_endpoint
from kmslab.kms.authz import IdentityFileError

pytestmark = pytest.mark.functional

ACCOUNT = "111122223333"
ROOT = {"arn": f"arn:aws:iam::{ACCOUNT}:root", "access_key_id": "AKIAROOT000000000001", "secret_access_key": "r00t"}
BOB = {"arn": f"arn:aws:iam::{ACCOUNT}:user/bob", "access_key_id": "AKIABOB0000000000001", "secret_access_key": "b0b"}


def client(url: str, service: str = "kms", identity: dict[str, str] | None = None) -> Any:
    creds = identity or {"access_key_id": "AKIAANYBODY", "secret_access_key": "anything"}
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=creds["access_key_id"],
        aws_secret_access_key=creds["secret_access_key"],
    )


def records(trail_dir: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(trail_dir.rglob("*.json.gz")):
        with gzip.open(path) as fh:
            found.extend(json.load(fh)["Records"])
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def identities_file(tmp_path: Path) -> Path:
    path = tmp_path / "identities.json"
    path.write_text(json.dumps({"account": ACCOUNT, "identities": [ROOT, {**BOB, "policies": []}]}))
    return path


@pytest.fixture
def served(tmp_path: Path, identities_file: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    port = free_port()
    trail = tmp_path / "trail"
    cmd = [sys.executable, "-m", "kmslab", "kms", "serve", "--port", str(port), "--data-dir", str(tmp_path / "kms")]
    cmd += ["--trail-dir", str(trail), "--identities", str(identities_file)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"serve did not start: {proc.communicate()}") from None
            time.sleep(0.05)
    yield proc, url, trail
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_serve_with_identities_and_trail_records_every_call_and_flushes_on_sigterm(
    served: tuple[subprocess.Popen[str], str, Path],
) -> None:
    proc, url, trail = served
    root, bob = client(url, identity=ROOT), client(url, identity=BOB)
    key_arn = root.create_key(Description="served")["KeyMetadata"]["Arn"]
    root.encrypt(KeyId=key_arn, Plaintext=b"secret-plaintext", EncryptionContext={"app": "test"})
    with pytest.raises(ClientError) as denied:
        bob.encrypt(KeyId=key_arn, Plaintext=b"x")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as unknown:
        client(url).list_keys()
    assert unknown.value.response["Error"]["Code"] == "UnrecognizedClientException"
    forged = {**BOB, "secret_access_key": "not-bobs-secret"}
    with pytest.raises(ClientError) as forged_call:
        client(url, identity=forged).list_keys()
    assert forged_call.value.response["Error"]["Code"] == "InvalidSignatureException"
    # LookupEvents answers from the same endpoint, signed by a known identity
    found = client(url, "cloudtrail", identity=ROOT).lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}]
    )["Events"]
    assert {e["Username"] for e in found} == {"root", "bob"}

    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert proc.returncode == 0
    written = records(trail)  # the default flush interval is 5 s: these arrived through the clean stop
    by_name = [(r["eventName"], r["userIdentity"]["arn"], r.get("errorCode")) for r in written]
    assert ("CreateKey", ROOT["arn"], None) in by_name
    assert ("Encrypt", ROOT["arn"], None) in by_name
    assert ("Encrypt", BOB["arn"], "AccessDenied") in by_name
    text = json.dumps(written)
    assert "secret-plaintext" not in text and "c2VjcmV0LXBsYWludGV4dA" not in text  # nor its base64


def test_build_endpoint_refuses_an_identities_file_for_another_account(identities_file: Path) -> None:
    with pytest.raises(IdentityFileError, match="account 111122223333.*account 444455556666"):
        build_endpoint(data_dir=None, identities=identities_file, account="444455556666")


def test_serve_with_a_malformed_identities_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "ids.json"
    bad.write_text(json.dumps({"account": ACCOUNT, "identities": [{"arn": "not-an-arn"}]}))
    result = subprocess.run(
        [sys.executable, "-m", "kmslab", "kms", "serve", "--port", "0", "--identities", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ},
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "identities[0]" in lines[0]
    assert "Traceback" not in result.stderr


def test_the_end_of_a_waiting_period_is_a_service_event_in_the_trail(tmp_path: Path) -> None:
    from kmslab.kms.control import ControlClient

    endpoint = build_endpoint(data_dir=tmp_path / "kms", trail_dir=tmp_path / "trail", port=0)
    endpoint.server.start()
    try:
        kms = client(endpoint.server.url)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        ControlClient(endpoint.server.url).advance(timedelta(days=8))
        with pytest.raises(ClientError, match="NotFoundException"):
            kms.describe_key(KeyId=key_id)
        assert endpoint.recorder is not None
        endpoint.recorder.flush()
    finally:
        endpoint.server.stop()
    deleted = [r for r in records(tmp_path / "trail") if r["eventName"] == "DeleteKey"]
    assert len(deleted) == 1
    assert deleted[0]["eventType"] == "AwsServiceEvent"
    assert deleted[0]["responseElements"]["keyId"].endswith(f":key/{key_id}")
