"""Where the engine finds CloudTrail log files, and which day partition each belongs to."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from kmslab.audit.errors import TrailNotFoundError

_DAY_FOLDER = re.compile(r"[/\\](\d{4})[/\\](\d{2})[/\\](\d{2})[/\\][^/\\]+$")


def find_log_files(source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Return the CloudTrail log files of a trail directory (or a list of files), sorted.

    Args:
        source: a directory searched recursively for ``*.json.gz``, or files.

    Returns:
        The files.

    Raises:
        TrailNotFoundError: the directory does not exist or holds no log file.
    """
    if isinstance(source, str | os.PathLike):
        root = Path(source)
        if root.is_file():
            return [root]
        if not root.is_dir():
            raise TrailNotFoundError(f"no trail directory at {root}")
        files = sorted(p for p in root.rglob("*.json.gz") if not p.name.startswith("."))
        if not files:
            raise TrailNotFoundError(f"no CloudTrail log files (*.json.gz) under {root}")
        return files
    return sorted(Path(p) for p in source)


def file_day(path: Path) -> str | None:
    """Return the ``yyyy/MM/dd`` partition of a log file, from its folder, or None.

    Args:
        path: a log file in the CloudTrail layout.

    Returns:
        For example ``2026/01/31``.
    """
    match = _DAY_FOLDER.search(str(path))
    return "/".join(match.groups()) if match else None


def in_window(day: str | None, first: str, last: str | None) -> bool:
    """Whether a file's day folder is inside the window (a file outside the layout is always read)."""
    if day is None:
        return True
    return day >= first and (last is None or day <= last)
