"""A system clock whose forward offset survives restarts (``kmslab kms advance-time`` then a restart)."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from kmslab.kms.seams import SystemClock

OFFSET_FILE = "clock-offset.json"


class SavedOffsetClock(SystemClock):
    """Wall-clock time plus an offset kept in ``<data_dir>/clock-offset.json``.

    Args:
        data_dir: the engine's data directory (created if missing).

    Raises:
        ValueError: the offset file is not valid.
    """

    def __init__(self, data_dir: str | Path) -> None:
        self._path = Path(data_dir) / OFFSET_FILE
        super().__init__(_load(self._path))

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward and save the new offset (atomically) before answering.

        Args:
            delta: how far; must not be negative.

        Returns:
            The new current time.

        Raises:
            ValueError: ``delta`` is negative.
        """
        now = super().advance(delta)
        _save(self._path, self.offset)
        return now


def _load(path: Path) -> timedelta:
    try:
        seconds = json.loads(path.read_text())["offsetSeconds"]
    except FileNotFoundError:
        return timedelta(0)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a valid clock offset file") from exc
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValueError(f"{path} holds an invalid offset")
    return timedelta(seconds=seconds)


def _save(path: Path, offset: timedelta) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".clock-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump({"offsetSeconds": offset.total_seconds()}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
