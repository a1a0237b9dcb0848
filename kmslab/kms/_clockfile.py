"""A system clock whose forward offset survives restarts (``kmslab kms advance-time`` then a restart).

The clock is bounded (:data:`MAX_CLOCK`): AWS writes its timestamps as ISO 8601 with four-digit
years (SigV4 dates, CloudTrail ``eventTime``), and Python's datetime stops at year 9999 too. The
engine schedules up to 2,560 days ahead of "now" (a rotation period), so the clock stops well
before the end of that range; moving it further is a ValidationException, and an offset file
that points past it (written by an older version) is refused at start with one line.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kmslab._fsutil import private_dir, write_private_atomic
from kmslab.kms.seams import SystemClock

__all__ = ["MAX_CLOCK", "OFFSET_FILE", "SavedOffsetClock", "clock_headroom"]

OFFSET_FILE = "clock-offset.json"
#: the latest time the engine clock may show (leaves ~99 years for schedules before year 9999)
MAX_CLOCK = datetime(9900, 1, 1, tzinfo=UTC)


def clock_headroom(now: datetime) -> timedelta:
    """How far a clock showing ``now`` may still move forward.

    Args:
        now: the clock's current time (timezone-aware).

    Returns:
        The room left before :data:`MAX_CLOCK` (zero or more).
    """
    return max(MAX_CLOCK - now, timedelta(0))


class SavedOffsetClock(SystemClock):
    """Wall-clock time plus an offset kept in ``<data_dir>/clock-offset.json`` (mode 0600).

    Args:
        data_dir: the engine's data directory (created 0700 if missing).

    Raises:
        ValueError: the offset file is not valid, or points past :data:`MAX_CLOCK`.
    """

    def __init__(self, data_dir: str | Path) -> None:
        path = Path(data_dir) / OFFSET_FILE
        # each advance saves the new offset (atomically) before it answers
        super().__init__(_load(path), on_advance=lambda offset: _save(path, offset))


def _load(path: Path) -> timedelta:
    fix = f"delete {path} to reset the local KMS clock to real time"
    try:
        seconds = json.loads(path.read_text())["offsetSeconds"]
    except FileNotFoundError:
        return timedelta(0)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a valid clock offset file") from exc
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{path} holds an invalid offset: {fix}")
    try:
        offset = timedelta(seconds=seconds)
        too_far = datetime.now(UTC) + offset > MAX_CLOCK
    except OverflowError:
        too_far = True
    if too_far:
        raise ValueError(f"{path} moves the clock past {MAX_CLOCK.date().isoformat()}, the latest it may show: {fix}")
    return offset


def _save(path: Path, offset: timedelta) -> None:
    private_dir(path.parent)
    write_private_atomic(path, json.dumps({"offsetSeconds": offset.total_seconds()}).encode())
