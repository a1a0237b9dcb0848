"""``kmslab envelope``: round trips, pipes, inspect, one-line errors with exit 2, and no partial output files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from kmslab.cli import main
from kmslab.envelope import _stream, inspect_header
from kmslab.kms import LocalKms
from kmslab.kms.server import KmsServer

KMSLAB = str(Path(sys.executable).parent / "kmslab")


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([KMSLAB, "envelope", *args], input=stdin, capture_output=True, timeout=60, check=False)


def call(*args: str) -> int:
    """Run the CLI in process (as the console script does) and return its exit status."""
    try:
        return main(["envelope", *args])
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "wrapping.key"
    path.write_bytes(os.urandom(32))
    return path


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".partial"))


def test_raw_key_round_trip_and_inspect(tmp_path: Path, keyfile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(10_000))
    enc, dec = tmp_path / "plain.enc", tmp_path / "plain.out"
    key = f"raw:{keyfile}"
    assert (
        call("encrypt", "--key", key, "--in", str(plain), "--out", str(enc), "-c", "app=lab", "--frame-size", "4K") == 0
    )
    assert call("decrypt", "--key", key, "--in", str(enc), "--out", str(dec), "--context", "app=lab") == 0
    assert dec.read_bytes() == plain.read_bytes()
    capsys.readouterr()
    assert call("inspect", str(enc)) == 0
    text = capsys.readouterr().out
    assert "AES_256_GCM_HKDF_SHA512_COMMIT_KEY (0x0478)" in text
    assert "app = lab" in text and "frames:          3" in text and "plaintext size:  10000 bytes" in text
    assert "kmslab  kmslab-raw-key" in text
    header = inspect_header(enc.read_bytes())
    secrets = [keyfile.read_bytes().hex(), header.encrypted_data_keys[0].ciphertext.hex()]
    assert not any(s in text for s in secrets)
    assert call("inspect", "--json", str(enc)) == 0
    as_json = capsys.readouterr().out
    assert '"plaintext_length": 10000' in as_json and not any(s in as_json for s in secrets)
    assert _leftovers(tmp_path) == []


def test_stdin_stdout_pipes(keyfile: Path) -> None:
    data = os.urandom(300_000)
    enc = run("encrypt", "--key", f"raw:{keyfile}", "--in", "-", "--out", "-", "--frame-size", "65536", stdin=data)
    assert enc.returncode == 0, enc.stderr
    assert enc.stderr == b""  # no progress bar on a pipe
    dec = run("decrypt", "--key", f"raw:{keyfile}", "--in", "-", "--out", "-", stdin=enc.stdout)
    assert dec.returncode == 0, dec.stderr
    assert dec.stdout == data


def test_tampered_message_exit_2_one_line_and_no_output(tmp_path: Path, keyfile: Path) -> None:
    plain = tmp_path / "p"
    plain.write_bytes(os.urandom(50_000))
    enc = tmp_path / "p.enc"
    assert (
        run("encrypt", "-k", f"raw:{keyfile}", "-i", str(plain), "-o", str(enc), "--frame-size", "4096").returncode == 0
    )
    data = bytearray(enc.read_bytes())
    data[-100] ^= 1  # inside the final frame: every earlier frame verifies and is streamed first
    enc.write_bytes(bytes(data))
    out = tmp_path / "p.out"
    result = run("decrypt", "-k", f"raw:{keyfile}", "-i", str(enc), "-o", str(out))
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmslab: error:") and "authentication tag" in lines[0]
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_errors_are_one_line_exit_2(tmp_path: Path, keyfile: Path) -> None:
    plain = tmp_path / "p"
    plain.write_bytes(b"hello")
    enc = tmp_path / "p.enc"
    assert run("encrypt", "-k", f"raw:{keyfile}", "-i", str(plain), "-o", str(enc), "-c", "a=1").returncode == 0
    cases = [
        ("decrypt", "-k", f"raw:{keyfile}", "-i", str(enc), "-o", str(tmp_path / "o"), "-c", "a=2"),
        ("decrypt", "-k", f"raw:{keyfile}", "-i", str(tmp_path / "missing"), "-o", str(tmp_path / "o")),
        ("encrypt", "-k", f"raw:{plain}", "-i", str(plain), "-o", str(tmp_path / "o")),  # 5-byte key file
        ("encrypt", "-k", f"raw:{keyfile}", "-i", str(plain), "-o", str(tmp_path / "o"), "-c", "novalue"),
        ("encrypt", "-k", f"raw:{keyfile}", "-i", str(plain), "-o", str(tmp_path / "o"), "--frame-size", "0"),
        ("decrypt", "-i", str(enc), "-o", str(tmp_path / "o")),  # raw message, no key given
        ("inspect", str(plain)),
    ]
    for args in cases:
        result = run(*args)
        assert result.returncode == 2, args
        assert len(result.stderr.decode().strip().splitlines()) == 1, (args, result.stderr)
        assert b"Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()
    assert _leftovers(tmp_path) == []


def test_keyboard_interrupt_leaves_no_partial_output(
    tmp_path: Path, keyfile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "big"
    plain.write_bytes(os.urandom(64 * 1024))
    out = tmp_path / "big.enc"
    real = _stream.read_full
    calls = {"n": 0}

    def interrupted(src: Any, view: memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(src, view)

    monkeypatch.setattr(_stream, "read_full", interrupted)
    status = call("encrypt", "-k", f"raw:{keyfile}", "-i", str(plain), "-o", str(out), "--frame-size", "4096")
    assert status == 130
    assert calls["n"] == 4
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_existing_output_survives_a_failed_run(tmp_path: Path, keyfile: Path) -> None:
    out = tmp_path / "keep.txt"
    out.write_bytes(b"previous contents")
    bad = tmp_path / "bad.enc"
    bad.write_bytes(b"\x02garbage")
    assert run("decrypt", "-k", f"raw:{keyfile}", "-i", str(bad), "-o", str(out)).returncode == 2
    assert out.read_bytes() == b"previous contents"


def test_kms_key_round_trip_over_the_local_endpoint(tmp_path: Path) -> None:
    with KmsServer(LocalKms()) as server:
        client = boto3.client("kms", region_name="us-east-1", endpoint_url=server.url)
        arn = client.create_key()["KeyMetadata"]["Arn"]
        plain = tmp_path / "p"
        plain.write_bytes(os.urandom(3000))
        enc, dec = tmp_path / "p.enc", tmp_path / "p.dec"
        result = run("encrypt", "--key", arn, "-i", str(plain), "-o", str(enc), "-c", "t=1", "--endpoint", server.url)
        assert result.returncode == 0, result.stderr
        assert [e.key_info.decode() for e in inspect_header(enc.read_bytes()).encrypted_data_keys] == [arn]
        # the key comes from the message; --context is required context
        result = run("decrypt", "-i", str(enc), "-o", str(dec), "-c", "t=1", "--endpoint", server.url)
        assert result.returncode == 0, result.stderr
        assert dec.read_bytes() == plain.read_bytes()
        other = client.create_key()["KeyMetadata"]["Arn"]
        result = run("decrypt", "--key", other, "-i", str(enc), "-o", str(tmp_path / "x"), "--endpoint", server.url)
        assert result.returncode == 2 and b"no data key under an allowed KMS key" in result.stderr
        client.disable_key(KeyId=arn)
        result = run("decrypt", "-i", str(enc), "-o", str(tmp_path / "x"), "--endpoint", server.url)
        assert result.returncode == 2 and b"DisabledException" in result.stderr
        assert len(result.stderr.decode().strip().splitlines()) == 1
        assert not (tmp_path / "x").exists()


def test_forced_progress_bar_and_lean_imports(tmp_path: Path, keyfile: Path) -> None:
    plain = tmp_path / "p"
    plain.write_bytes(os.urandom(200_000))
    result = run("encrypt", "-k", f"raw:{keyfile}", "-i", str(plain), "-o", str(tmp_path / "e"), "--progress")
    assert result.returncode == 0 and b"encrypting" in result.stderr
    code = (
        "import sys\n"
        "from kmslab.cli import main\n"
        f"main(['envelope', 'encrypt', '-k', 'raw:{keyfile}', '-i', '{plain}', '-o', '{tmp_path / 'f'}'])\n"
        "print('boto3' in sys.modules, 'botocore' in sys.modules)\n"
    )
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert probe.stdout.strip() == "False False"
