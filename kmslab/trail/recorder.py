"""The CloudTrail recorder: an event sink that writes real CloudTrail log files.

Files land where a trail delivers them in S3::

    DIR/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
        <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 alphanumerics>.json.gz

each holding ``{"Records": [...]}``. Records are buffered in memory and written by a background
thread at least every ``flush_interval`` seconds, when a file's worth has gathered, and on
:meth:`TrailRecorder.close`. Each file is written to a hidden temporary name, synced, then renamed
into place, so a crash never leaves a torn log file.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import secrets
import string
import threading
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from kmslab.kms.seams import ApiCall
from kmslab.trail.events import EventBus, EventHandler, to_eventbridge_event
from kmslab.trail.record import to_cloudtrail_record

_LOGGER = logging.getLogger(__name__)
_ALNUM = string.ascii_letters + string.digits


def log_file_name(account: str, region: str, event_time: str) -> str:
    """Return a CloudTrail log file name.

    Args:
        account: the account ID.
        region: the region.
        event_time: a record's ``eventTime`` (``YYYY-MM-DDTHH:MM:SSZ``).

    Returns:
        ``<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 alphanumerics>.json.gz``.
    """
    stamp = event_time[0:4] + event_time[5:7] + event_time[8:10] + "T" + event_time[11:13] + event_time[14:16] + "Z"
    suffix = "".join(secrets.choice(_ALNUM) for _ in range(16))
    return f"{account}_CloudTrail_{region}_{stamp}_{suffix}.json.gz"


def log_file_dir(trail_dir: Path, account: str, region: str, event_time: str) -> Path:
    """Return the folder CloudTrail delivers a record's log file to.

    Args:
        trail_dir: the root (the S3 bucket's stand-in).
        account: the account ID.
        region: the region.
        event_time: a record's ``eventTime``.

    Returns:
        ``trail_dir/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD``.
    """
    day = (event_time[0:4], event_time[5:7], event_time[8:10])
    return trail_dir.joinpath("AWSLogs", account, "CloudTrail", region, *day)


def write_log_file(path: Path, records: list[dict[str, Any]]) -> None:
    """Write one gzip CloudTrail log file atomically (temporary file, fsync, rename).

    Args:
        path: the final file path.
        records: the records.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    payload = json.dumps({"Records": records}, separators=(",", ":")).encode()
    try:
        with temporary.open("wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as zipped:
                zipped.write(payload)
            raw.flush()
            os.fsync(raw.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class TrailRecorder:
    """An :class:`~kmslab.kms.seams.EventSink` that records every KMS call as CloudTrail does.

    Args:
        trail_dir: where log files go (the trail bucket's stand-in).
        account: the account ID in paths and names.
        flush_interval: the longest a record waits in memory, in seconds.
        max_records_per_file: a file is written as soon as this many records gathered for it.
        recent_limit: how many recent records stay in memory for LookupEvents.
        bus: the event bus records are published to (a new one when None).
        background: run the flusher thread (turn off to flush by hand in tests).
    """

    def __init__(
        self,
        trail_dir: str | os.PathLike[str],
        *,
        account: str,
        flush_interval: float = 5.0,
        max_records_per_file: int = 500,
        recent_limit: int = 10_000,
        bus: EventBus | None = None,
        background: bool = True,
    ) -> None:
        if flush_interval <= 0:
            raise ValueError("flush_interval must be positive")
        if max_records_per_file < 1:
            raise ValueError("max_records_per_file must be at least 1")
        self.trail_dir = Path(trail_dir)
        self.account = account
        self.flush_interval = flush_interval
        self.max_records_per_file = max_records_per_file
        self.bus = bus or EventBus()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pending: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._recent: deque[dict[str, Any]] = deque(maxlen=recent_limit)
        self._files: list[Path] = []
        self._closed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name="kmslab-trail-flusher", daemon=True)
            self._thread.start()

    def __call__(self, call: ApiCall) -> None:
        """Record one answered call; never raises.

        Args:
            call: the answered request.
        """
        try:
            self.record(to_cloudtrail_record(call))
        except Exception:  # a sink must not fail the request it observes
            _LOGGER.exception("could not record %s call %s", call.operation, call.request_id)

    def record(self, record: dict[str, Any]) -> None:
        """Buffer an already built CloudTrail record, keep it for lookups and publish it.

        Args:
            record: the record.
        """
        region = str(record.get("awsRegion", ""))
        day = str(record.get("eventTime", ""))[:10]
        full: list[dict[str, Any]] | None = None
        with self._lock:
            if self._closed:
                raise RuntimeError("the recorder is closed")
            batch = self._pending.setdefault((region, day), [])
            batch.append(record)
            self._recent.append(record)
            if len(batch) >= self.max_records_per_file:
                full = self._pending.pop((region, day))
        if full is not None:
            self._write(region, full)
        self.bus.publish(to_eventbridge_event(record))

    def subscribe(self, handler: EventHandler, *, pattern: Mapping[str, Any] | None = None) -> Callable[[], None]:
        """Deliver the EventBridge event of every future record to a handler.

        Args:
            handler: the handler.
            pattern: an EventBridge event pattern, or None.

        Returns:
            A function that unsubscribes.
        """
        return self.bus.subscribe(handler, pattern=pattern)

    def records(self) -> list[dict[str, Any]]:
        """Return the recent records, oldest first (bounded by ``recent_limit``).

        Returns:
            A copy of the list.
        """
        with self._lock:
            return list(self._recent)

    @property
    def files(self) -> list[Path]:
        """The log files this recorder has written, in order."""
        with self._lock:
            return list(self._files)

    def flush(self) -> list[Path]:
        """Write every buffered record now.

        Returns:
            The files written.
        """
        with self._lock:
            pending, self._pending = self._pending, {}
        written = []
        items = list(pending.items())
        for index, ((region, _day), batch) in enumerate(items):
            try:
                written.append(self._write(region, batch))
            except Exception:
                with self._lock:  # put back what was not written, so a later flush retries it
                    for key, unwritten in items[index:]:
                        self._pending[key] = unwritten + self._pending.get(key, [])
                raise
        return written

    def close(self) -> None:
        """Stop the flusher and write everything still buffered; later records are refused."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            self._closed = True
        self.flush()

    def __enter__(self) -> TrailRecorder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _write(self, region: str, batch: list[dict[str, Any]]) -> Path:
        first_time = str(batch[0].get("eventTime", ""))
        folder = log_file_dir(self.trail_dir, self.account, region, first_time)
        path = folder / log_file_name(self.account, region, first_time)
        with self._write_lock:
            write_log_file(path, batch)
        with self._lock:
            self._files.append(path)
        return path

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            try:
                self.flush()
            except Exception:  # keep flushing later; the records stay lost only if the disk never recovers
                _LOGGER.exception("could not flush CloudTrail records")
