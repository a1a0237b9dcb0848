"""A multi-GiB message streams through encrypt_stream and decrypt_stream in constant memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("_stream_child.py")
SIZE = 2 * 1024**3 + 12_345  # just over 2 GiB, not a whole number of frames


@pytest.mark.slow
def test_two_gib_stream_constant_memory() -> None:
    result = subprocess.run(
        [sys.executable, str(CHILD), str(SIZE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["bytes"] == SIZE
    assert report["in"] == report["out"]
    assert report["frame_length"] == 1024 * 1024
    assert report["peak_rss_mib"] < 64, report


def test_small_stream_child_reports_matching_hashes() -> None:
    result = subprocess.run(
        [sys.executable, str(CHILD), str(5 * 1024 * 1024 + 7)], capture_output=True, text=True, timeout=60, check=True
    )
    report = json.loads(result.stdout)
    assert report["in"] == report["out"] and report["bytes"] == 5 * 1024 * 1024 + 7
