"""The CLI's file plumbing: atomic private temp files, sliced plaintext writes, and a lean import path."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kmslab.cli import main
from kmslab.envelope import AuthenticationError, RawAesKeyProvider, decrypt_stream, encrypt_stream
from kmslab.envelope._cli_io import atomic_output
from kmslab.envelope._stream import WRITE_SLICE, write_sliced

if TYPE_CHECKING:
    from typing_extensions import Buffer

MIB = 1024 * 1024


class RecordingSink(io.BytesIO):
    """A BytesIO that also keeps the size of each write."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def write(self, b: Buffer) -> int:
        self.sizes.append(memoryview(b).nbytes)
        return super().write(b)

    @property
    def data(self) -> bytes:
        return self.getvalue()


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".partial"))


def test_decrypt_writes_plaintext_in_bounded_slices() -> None:
    provider = RawAesKeyProvider("ns", "k", os.urandom(32))
    plain = os.urandom(3 * MIB + 12345)
    message = io.BytesIO()
    encrypt_stream(io.BytesIO(plain), message, provider=provider)
    sink = RecordingSink()
    decrypt_stream(io.BytesIO(message.getvalue()), sink, provider=provider)
    assert bytes(sink.data) == plain
    assert max(sink.sizes) == WRITE_SLICE
    # 1 MiB frames -> 4 slices each, then the 12345-byte final frame in one write
    assert sink.sizes == [WRITE_SLICE] * 12 + [12345]


def test_write_sliced_passes_views_in_order() -> None:
    sink = RecordingSink()
    data = os.urandom(2 * WRITE_SLICE + 7)
    write_sliced(sink.write, memoryview(data))
    assert sink.sizes == [WRITE_SLICE, WRITE_SLICE, 7] and bytes(sink.data) == data
    write_sliced(sink.write, memoryview(b""))
    assert sink.sizes[-1] == 0


def test_decrypt_of_an_altered_final_frame_releases_none_of_it() -> None:
    provider = RawAesKeyProvider("ns", "k", os.urandom(32))
    plain = os.urandom(MIB + 500)
    message = io.BytesIO()
    encrypt_stream(io.BytesIO(plain), message, provider=provider)
    altered = bytearray(message.getvalue())
    altered[-20] ^= 1  # inside the final frame's ciphertext
    sink = RecordingSink()
    with pytest.raises(AuthenticationError):
        decrypt_stream(io.BytesIO(bytes(altered)), sink, provider=provider)
    assert bytes(sink.data) == plain[:MIB]  # the verified first frame only


def test_atomic_output_uses_a_private_temp_file_then_renames(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_output(str(target)) as handle:
        handle.write(b"x" * 100_000)
        (temp,) = _leftovers(tmp_path)
        assert temp.startswith(".out.bin.")
        assert stat.S_IMODE((tmp_path / temp).stat().st_mode) == 0o600
        assert not target.exists()
    assert target.read_bytes() == b"x" * 100_000
    assert _leftovers(tmp_path) == []


def test_atomic_output_failure_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_output(str(target), fsync=False) as handle:
        handle.write(b"new" * 50_000)
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_output_that_names_a_directory_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "k"
    key.write_bytes(os.urandom(32))
    plain = tmp_path / "p"
    plain.write_bytes(b"data")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    for out in (".", "sub"):
        with pytest.raises(SystemExit) as exc:
            main(["envelope", "encrypt", "-k", f"raw:{key}", "-i", str(plain), "-o", out])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert _leftovers(tmp_path) == [] and _leftovers(tmp_path / "sub") == []


def test_cli_raw_key_path_skips_what_it_does_not_need(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_bytes(os.urandom(32))
    plain = tmp_path / "p"
    plain.write_bytes(os.urandom(5000))
    enc, dec = tmp_path / "e", tmp_path / "d"
    skipped = ["kmslab.envelope.api", "kmslab.envelope._oneshot", "kmslab.envelope.cache", "tempfile", "json", "boto3"]
    code = (
        "import sys\n"
        "from kmslab.cli import main\n"
        f"main(['envelope', 'encrypt', '-k', 'raw:{key}', '-i', '{plain}', '-o', '{enc}'])\n"
        f"main(['envelope', 'decrypt', '-k', 'raw:{key}', '-i', '{enc}', '-o', '{dec}'])\n"
        f"print([m for m in {skipped!r} if m in sys.modules])\n"
    )
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert probe.stdout.strip() == "[]"
    assert dec.read_bytes() == plain.read_bytes()
