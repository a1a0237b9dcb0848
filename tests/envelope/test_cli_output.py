"""``kmslab envelope``: what reaches stdout before a message is verified, outputs that are the input, the line
``encrypt`` prints, the data keys ``inspect`` lists, and KMS ciphertext blobs given to ``decrypt``."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from kmslab.envelope import MessageFormatError, RawAesKeyProvider, decrypt, inspect_header
from kmslab.kms import LocalKms
from kmslab.kms.server import KmsServer

KMSLAB = str(Path(sys.executable).parent / "kmslab")
PLAIN_SIZE = 300_000  # 74 frames of 4 KiB: most of the message streams before the end


def run(*args: str, stdin: object = None, stdout: object = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # noqa: PLW1510 - the status is asserted by each test
        [KMSLAB, "envelope", *args],
        stdin=stdin,  # type: ignore[arg-type]
        stdout=stdout,  # type: ignore[arg-type]
        stderr=subprocess.PIPE,
        timeout=60,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    return lines[0]


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "wrapping.key"
    path.write_bytes(os.urandom(32))
    return path


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    path = tmp_path / "plain.bin"
    path.write_bytes(os.urandom(PLAIN_SIZE))
    return path


def encrypt_file(keyfile: Path, plain: Path, out: Path, *extra: str) -> Path:
    result = run("encrypt", "-k", f"raw:{keyfile}", "-i", str(plain), "-o", str(out), "--frame-size", "4K", *extra)
    assert result.returncode == 0, result.stderr
    return out


def partials(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".partial"))


# -- issue 11 item 13: nothing unverified on stdout for a signed message; --buffer for any message ---------


def test_signed_message_with_a_bad_signature_writes_nothing_to_stdout(
    tmp_path: Path, keyfile: Path, plain: Path
) -> None:
    message = bytearray(encrypt_file(keyfile, plain, tmp_path / "s.enc", "--signed").read_bytes())
    message[-5] ^= 1  # inside the signature: every frame still authenticates
    bad = tmp_path / "bad.enc"
    bad.write_bytes(bytes(message))
    result = run("decrypt", "-k", f"raw:{keyfile}", "-i", str(bad), "-o", "-")
    assert "signature does not verify" in one_error_line(result)
    assert result.stdout == b""  # before: the 73 verified regular frames had been streamed out


def test_truncated_signed_message_writes_nothing_to_stdout(tmp_path: Path, keyfile: Path, plain: Path) -> None:
    message = encrypt_file(keyfile, plain, tmp_path / "s.enc", "--signed").read_bytes()
    cut = tmp_path / "cut.enc"
    cut.write_bytes(message[: len(message) - 200])  # the footer and the final frame's end are gone
    result = run("decrypt", "-k", f"raw:{keyfile}", "-i", str(cut), "-o", "-")
    assert "truncated" in one_error_line(result)
    assert result.stdout == b""


def test_signed_message_reaches_stdout_whole_once_verified(tmp_path: Path, keyfile: Path, plain: Path) -> None:
    message = encrypt_file(keyfile, plain, tmp_path / "s.enc", "--signed")
    result = run("decrypt", "-k", f"raw:{keyfile}", "-i", "-", "-o", "-", stdin=message.open("rb"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == plain.read_bytes()


def test_signed_message_over_the_buffer_limit_is_refused_with_nothing_written(
    tmp_path: Path, keyfile: Path, plain: Path
) -> None:
    message = encrypt_file(keyfile, plain, tmp_path / "s.enc", "--signed")
    result = run("decrypt", "-k", f"raw:{keyfile}", "-i", str(message), "-o", "-", "--buffer-limit", "64K")
    line = one_error_line(result)
    assert "--buffer-limit" in line and "--out FILE" in line
    assert result.stdout == b""
    # to a file, no bound applies: the file appears only once verified
    out = tmp_path / "out.bin"
    result = run("decrypt", "-k", f"raw:{keyfile}", "-i", str(message), "-o", str(out), "--buffer-limit", "64K")
    assert result.returncode == 0 and out.read_bytes() == plain.read_bytes()


def test_unsigned_message_streams_verified_frames_unless_buffered(tmp_path: Path, keyfile: Path, plain: Path) -> None:
    message = encrypt_file(keyfile, plain, tmp_path / "u.enc").read_bytes()
    cut = tmp_path / "cut.enc"
    cut.write_bytes(message[: len(message) // 2])
    streamed = run("decrypt", "-k", f"raw:{keyfile}", "-i", str(cut), "-o", "-")
    assert "truncated" in one_error_line(streamed)
    # the documented ESDK-like behaviour: the frames that authenticated were released, and only those
    assert 0 < len(streamed.stdout) < PLAIN_SIZE and len(streamed.stdout) % 4096 == 0
    assert plain.read_bytes().startswith(streamed.stdout)
    buffered = run("decrypt", "-k", f"raw:{keyfile}", "-i", str(cut), "-o", "-", "--buffer")
    assert "truncated" in one_error_line(buffered)
    assert buffered.stdout == b""
    whole = run("decrypt", "-k", f"raw:{keyfile}", "-i", str(tmp_path / "u.enc"), "-o", "-", "--buffer")
    assert whole.returncode == 0 and whole.stdout == plain.read_bytes()


def test_help_documents_the_release_of_frames() -> None:
    result = run("decrypt", "--help")
    text = " ".join(result.stdout.decode().split())
    assert "--buffer" in text and "--buffer-limit" in text
    assert "released as each one authenticates" in text and "signed message" in text


# -- issue 11 item 14: an output that is the input is refused ----------------------------------------------


@pytest.mark.parametrize("how", ["same path", "symlink", "hard link"])
@pytest.mark.parametrize("verb", ["encrypt", "decrypt"])
def test_output_that_is_the_input_is_refused(tmp_path: Path, keyfile: Path, plain: Path, verb: str, how: str) -> None:
    source = plain if verb == "encrypt" else encrypt_file(keyfile, plain, tmp_path / "m.enc")
    before = source.read_bytes()
    out = source
    if how == "symlink":
        out = tmp_path / "link"
        out.symlink_to(source.name)
    elif how == "hard link":
        out = tmp_path / "hard"
        out.hardlink_to(source)
    result = run(verb, "-k", f"raw:{keyfile}", "-i", str(source), "-o", str(out))
    assert "same file as the input" in one_error_line(result)
    assert source.read_bytes() == before
    assert partials(tmp_path) == []


def test_redirected_stdin_and_stdout_that_are_the_other_side_are_refused(
    tmp_path: Path, keyfile: Path, plain: Path
) -> None:
    message = encrypt_file(keyfile, plain, tmp_path / "m.enc")
    before = message.read_bytes()
    with message.open("rb") as stdin:
        result = run("decrypt", "-k", f"raw:{keyfile}", "-i", "-", "-o", str(message), stdin=stdin)
    assert "same file as the input" in one_error_line(result)
    with plain.open("ab") as stdout:  # `>> plain`: the input would grow as it is read
        result = run("encrypt", "-k", f"raw:{keyfile}", "-i", str(plain), "-o", "-", stdout=stdout)
    assert "same file as the input" in one_error_line(result)
    assert message.read_bytes() == before and plain.stat().st_size == PLAIN_SIZE
    assert partials(tmp_path) == []


# -- issue 17: encrypt says what it wrote; inspect lists the encrypted data keys ---------------------------


def test_encrypt_prints_one_line_naming_file_size_and_key(tmp_path: Path, keyfile: Path, plain: Path) -> None:
    out = tmp_path / "m.enc"
    result = run("encrypt", "-k", f"raw:{keyfile}", "-i", str(plain), "-o", str(out))
    assert result.returncode == 0
    assert result.stderr.decode().splitlines() == [
        f"kmslab: wrote {out} ({out.stat().st_size} bytes); data key wrapped by raw AES key kmslab/kmslab-raw-key"
    ]
    quiet = run("encrypt", "-k", f"raw:{keyfile}", "-i", str(plain), "-o", str(tmp_path / "q.enc"), "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == b""


def test_kms_encrypt_line_and_inspect_list_every_encrypted_data_key(tmp_path: Path, plain: Path) -> None:
    with KmsServer(LocalKms(), port=0) as server:
        client = boto3.client("kms", region_name="us-east-1", endpoint_url=server.url)
        arns = [client.create_key()["KeyMetadata"]["Arn"] for _ in range(2)]
        out = tmp_path / "m.enc"
        keys = [arg for arn in arns for arg in ("--key", arn)]
        result = run("encrypt", *keys, "-i", str(plain), "-o", str(out), "--endpoint", server.url)
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.decode().splitlines()
    assert line == (
        f"kmslab: wrote {out} ({out.stat().st_size} bytes); data key wrapped by KMS key {arns[0]}, KMS key {arns[1]}"
    )
    edks = inspect_header(out.read_bytes()).encrypted_data_keys
    text = run("inspect", str(out)).stdout.decode()
    assert "encrypted data keys (2):" in text
    for arn, edk in zip(arns, edks, strict=True):
        assert f"  aws-kms  {arn}  ({len(edk.ciphertext)}-byte encrypted data key)" in text
        assert edk.ciphertext.hex() not in text
    listed = json.loads(run("inspect", "--json", str(out)).stdout)["encrypted_data_keys"]
    assert listed == [
        {"provider": "aws-kms", "key": arn, "ciphertext_length": len(edk.ciphertext)}
        for arn, edk in zip(arns, edks, strict=True)
    ]


# -- issue 17: a KMS ciphertext blob is recognised, with a hint --------------------------------------------


@pytest.fixture(scope="module")
def kms_blob() -> tuple[bytes, str]:
    with KmsServer(LocalKms(), port=0) as server:
        client = boto3.client("kms", region_name="us-east-1", endpoint_url=server.url)
        key_id = client.create_key()["KeyMetadata"]["KeyId"]
        return client.encrypt(KeyId=key_id, Plaintext=b"a secret")["CiphertextBlob"], key_id


def test_kms_ciphertext_blob_given_to_decrypt_gets_a_hint(
    tmp_path: Path, keyfile: Path, kms_blob: tuple[bytes, str]
) -> None:
    blob, key_id = kms_blob
    raw, text = tmp_path / "secret.bin", tmp_path / "secret.b64"
    raw.write_bytes(blob)
    text.write_bytes(base64.b64encode(blob) + b"\n")  # what `aws kms encrypt --output text` prints
    for args, stdin in (
        (("decrypt", "-i", str(raw), "-o", str(tmp_path / "out")), None),
        (("decrypt", "-k", f"raw:{keyfile}", "-i", "-", "-o", "-"), raw),
        (("inspect", str(raw)), None),
    ):
        with stdin.open("rb") if stdin else open(os.devnull, "rb") as handle:  # noqa: PTH123
            line = one_error_line(run(*args, stdin=handle))
        assert f"this is a KMS ciphertext blob (from KMS Encrypt, key {key_id})" in line
        assert "aws kms decrypt --ciphertext-blob fileb://" in line
    line = one_error_line(run("decrypt", "-i", str(text), "-o", str(tmp_path / "out")))
    assert "KMS ciphertext blob in base64 text" in line and "base64 --decode" in line
    assert not (tmp_path / "out").exists() and partials(tmp_path) == []
    with pytest.raises(MessageFormatError, match="KMS ciphertext blob"):
        decrypt(blob, provider=RawAesKeyProvider("n", "k", os.urandom(32)))


def test_other_foreign_input_keeps_the_version_error(tmp_path: Path, kms_blob: tuple[bytes, str]) -> None:
    blob, _ = kms_blob
    for data in (b"\x01\x80" + bytes(200), b"KL\x01\x24" + b"z" * 200, base64.b64encode(b"not a blob" * 20)):
        path = tmp_path / "x"
        path.write_bytes(data)
        line = one_error_line(run("inspect", str(path)))
        assert "unsupported message format version" in line and "KMS" not in line
