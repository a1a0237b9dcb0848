"""The ``kmslab`` command line: help everywhere, bad input gives one line and exit status 2."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kmslab.cli import main

KMSLAB = str(Path(sys.executable).with_name("kmslab"))


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("group", ["kms", "envelope", "audit", "lab"])
def test_every_group_has_help(group: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main([group, "--help"], capsys)
    assert status == 0 and err == ""
    assert out.startswith(f"Usage: kmslab {group} [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in out


@pytest.mark.parametrize("argv", [[], ["kms"], ["envelope"], ["audit"], ["lab"]])
def test_bare_group_prints_its_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(argv, capsys)
    assert status == 0 and err == ""
    assert out.startswith("Usage: kmslab") and "Commands:" in out


def test_top_level_help_lists_every_group() -> None:
    done = subprocess.run([KMSLAB, "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0
    for group in ("kms", "envelope", "audit", "lab"):
        assert f"  {group} " in done.stdout


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["kms", "--help"], "kmslab kms serve"),
        (["kms", "serve", "--help"], "AWS_ENDPOINT_URL_KMS"),
        (["kms", "advance-time", "--help"], "kmslab kms advance-time --days 8"),
        (["lab", "--help"], "kmslab lab run"),
        (["lab", "run", "--help"], "--keep"),
        (["kms", "-h"], "advance-time"),
    ],
)
def test_help_has_examples(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(argv, capsys)
    assert status == 0 and err == ""
    assert "Usage: kmslab" in out and expected in out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["nope"], "No such command 'nope'"),
        (["--bogus"], "No such option '--bogus'"),
        (["kms", "serve", "--port", "notaport"], "'--port'"),
        (["kms", "serve", "--port", "70000"], "'--port'"),
        (["kms", "serve", "--account", "12"], "12 digits"),
        (["kms", "advance-time"], "exactly one of --days, --hours, --seconds"),
        (["kms", "advance-time", "--days", "1", "--hours", "2"], "exactly one of"),
        (["kms", "advance-time", "--days", "-1"], "'--days'"),
        (["kms", "advance-time", "--days", "1", "--endpoint", "ftp://x"], "http://"),
        (["lab", "run", "--bogus"], "No such option '--bogus'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_main(argv, capsys)
    assert status == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert fragment in err
    assert "Traceback" not in err


def test_advance_time_unreachable_endpoint_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status, out, err = run_main(
        ["kms", "advance-time", "--seconds", "5", "--endpoint", f"http://127.0.0.1:{port}"], capsys
    )
    assert status == 2 and out == ""
    assert (
        err.strip()
        == f"kmslab: error: cannot reach the local KMS at http://127.0.0.1:{port}: [Errno 111] Connection refused"
    )


def test_serve_on_a_busy_port_exits_2_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [KMSLAB, "kms", "serve", "--port", str(port), "--data-dir", str(tmp_path / "kms")],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == f"kmslab: error: cannot listen on 127.0.0.1:{port}: the port is already in use"
    assert not (tmp_path / "kms").exists()  # refused before the engine opened its data directory


def test_serve_with_a_corrupt_clock_file_exits_2_with_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "kms"
    data_dir.mkdir()
    (data_dir / "clock-offset.json").write_text("{not json")
    done = subprocess.run(
        [KMSLAB, "kms", "serve", "--port", "0", "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2 and done.stdout == ""
    expected = f"cannot open the local KMS in {data_dir}: {data_dir}/clock-offset.json is not a valid clock offset file"
    assert done.stderr.strip() == f"kmslab: error: {expected}"


def test_a_missing_input_file_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.bin"
    status, out, err = run_main(["envelope", "decrypt", "--in", str(missing), "--out", str(tmp_path / "x")], capsys)
    assert status == 2 and out == ""
    assert err == f"kmslab: error: {missing}: No such file or directory\n"
    assert not (tmp_path / "x").exists()
