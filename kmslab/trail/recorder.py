"""The CloudTrail recorder: an event sink that writes real CloudTrail log files, losing nothing it acknowledged.

Files land where a trail delivers them in S3::

    DIR/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
        <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 alphanumerics>.json.gz

each holding ``{"Records": [...]}``. Each record is first appended to the trail directory's journal
(:mod:`kmslab.trail.journal`), so the engine answers a call only once its record is in the journal:
written, so it survives the process being killed, and synced to disk within ``sync_interval`` (the
default ``sync="write"``), or synced before the call is answered (``sync="fsync"``, which survives a
power loss too; concurrent calls share one sync). A background thread folds the journal into log
files at least every ``flush_interval`` seconds, as soon as a file's worth has gathered, and on
:meth:`TrailRecorder.close`; a journal left by a crash is folded when the next recorder starts.
Each file is written to a hidden temporary name, synced, then renamed into place, so a crash never
leaves a torn log file; a segment's file names derive from the segment, so folding it again after a
crash rewrites the same files instead of duplicating records. Files are 0600, directories 0700.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from kmslab._fsutil import private_dir
from kmslab.kms.seams import ApiCall
from kmslab.trail.entry import entry_record, journal_entry, split_entry
from kmslab.trail.errors import TrailJournalUnavailable
from kmslab.trail.events import EventBus, EventHandler, to_eventbridge_event
from kmslab.trail.journal import DEFAULT_SYNC, DEFAULT_SYNC_INTERVAL, Journal, SyncPolicy, decode_frames
from kmslab.trail.logfile import log_file_dir, log_file_name, write_log_body, write_log_file
from kmslab.trail.record import to_cloudtrail_record

_LOGGER = logging.getLogger(__name__)

__all__ = [
    "TrailRecorder",
    "entry_record",
    "journal_entry",
    "log_file_dir",
    "log_file_name",
    "split_entry",
    "write_log_file",
]
#: zlib level 3: about 2.5x faster than the default 6 on CloudTrail JSON, for files about 15% larger
_GZIP_LEVEL = 3


class TrailRecorder:
    """An :class:`~kmslab.kms.seams.EventSink` that records every KMS call as CloudTrail does.

    A call's record is in the journal before the sink returns (written, or with ``sync="fsync"`` also
    synced), so the engine answers only recorded calls; if the journal cannot be written, the sink raises
    :class:`~kmslab.trail.errors.TrailJournalUnavailable` (a KMS ``DependencyTimeoutException``, 503)
    and the call is not acknowledged.

    Args:
        trail_dir: where log files go (the trail bucket's stand-in); created 0700 when missing.
        account: the account ID in paths and names.
        flush_interval: the longest a record waits in the journal before it is in a log file, in seconds.
        max_records_per_file: the journal is folded into files as soon as this many records gathered.
        recent_limit: how many recent records stay in memory for LookupEvents.
        bus: the event bus records are published to (a new one when None).
        background: run the flusher thread (turn off to flush by hand in tests).
        sync: the journal's sync policy: ``write`` (the default) answers a call once its record is
            written to the journal (it survives kill -9; a power loss can lose the last
            ``sync_interval`` seconds), ``fsync`` once it is also synced (it survives a power loss).
        sync_interval: with ``write``, the longest a record waits for its sync, in seconds.

    Raises:
        JournalInUse: another process records into ``trail_dir``.
        ValueError: an invalid setting.
        OSError: the trail directory cannot be created.
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
        sync: SyncPolicy = DEFAULT_SYNC,
        sync_interval: float = DEFAULT_SYNC_INTERVAL,
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
        self._fold_lock = threading.Lock()
        self._recent: deque[dict[str, Any]] = deque(maxlen=recent_limit)
        self._files: list[Path] = []
        self._closed = False
        self._stop = threading.Event()
        self._wake = threading.Event()  # a file's worth of records gathered: fold now
        self._thread: threading.Thread | None = None
        self._deliveries: list[Callable[[str, bytes], None]] = []
        self._outbox: list[tuple[str, bytes]] = []  # folded files for the deliveries, under _fold_lock
        private_dir(self.trail_dir)
        self._journal = Journal(self.trail_dir, sync=sync, sync_interval=sync_interval)
        try:  # a journal left by a crash: its records were acknowledged, deliver them now
            self._fold_sealed()
        except Exception:  # the segments stay; every later flush retries them
            _LOGGER.exception("could not fold the journal left in %s into log files", self._journal.directory)
        if background:
            self._thread = threading.Thread(target=self._run, name="kmslab-trail-flusher", daemon=True)
            self._thread.start()

    def __call__(self, call: ApiCall) -> None:
        """Record one answered call durably before returning.

        Args:
            call: the answered request.

        Raises:
            TrailJournalUnavailable: the record could not be made durable; the call must not be acknowledged.
        """
        try:
            record = to_cloudtrail_record(call)
            payload = journal_entry(record)
        except Exception:  # a record that cannot be built is a bug; it must not fail the request it observes
            _LOGGER.exception("could not record %s call %s", call.operation, call.request_id)
            return
        self._append(record, payload)

    def record(self, record: dict[str, Any]) -> None:
        """Journal an already built CloudTrail record durably, keep it for lookups and publish it.

        Args:
            record: the record.

        Raises:
            TrailJournalUnavailable: the record could not be written to the journal.
            RuntimeError: the recorder is closed.
            ValueError: the record is not standard JSON (NaN, an infinity, an unpaired surrogate).
        """
        self._append(record, journal_entry(record))

    def subscribe(self, handler: EventHandler, *, pattern: Mapping[str, Any] | None = None) -> Callable[[], None]:
        """Deliver the EventBridge event of every future record to a handler.

        Args:
            handler: the handler.
            pattern: an EventBridge event pattern, or None.

        Returns:
            A function that unsubscribes.
        """
        return self.bus.subscribe(handler, pattern=pattern)

    def add_delivery(self, deliver: Callable[[str, bytes], None]) -> None:
        """Hand every log file this recorder writes from now on to ``deliver`` as well.

        ``deliver(region, body)`` gets the file's uncompressed JSON (``{"Records": [...]}``) once the
        file is safely written, outside the recorder's locks (so it may call the KMS engine, whose
        calls come back here as records). An exception it raises is logged; the file stays written.

        Args:
            deliver: the delivery (e.g. the local CloudTrail putting log files into trails' buckets).
        """
        self._deliveries.append(deliver)

    def records(self) -> list[dict[str, Any]]:
        """Return the recent records, oldest first (bounded by ``recent_limit``).

        Returns:
            A copy of the list.
        """
        with self._lock:
            return list(self._recent)

    @property
    def sync_policy(self) -> SyncPolicy:
        """When a call is answered: once its record is written (``write``) or also synced (``fsync``)."""
        return self._journal.sync_policy

    @property
    def files(self) -> list[Path]:
        """The log files this recorder has written, in order."""
        with self._lock:
            return list(self._files)

    def flush(self) -> list[Path]:
        """Fold every journaled record into log files now.

        Returns:
            The files written.

        Raises:
            OSError: a file could not be written; its records stay in the journal for the next flush.
        """
        self._journal.rotate()
        return self._fold_sealed()

    def close(self) -> None:
        """Stop the flusher and fold everything journaled into log files; later records are refused.

        Raises:
            OSError: a file could not be written; the records stay in the journal for the next start.
        """
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            self._closed = True
        try:
            self._journal.close()
            self._fold_sealed()
        finally:
            self._journal.release()

    def __enter__(self) -> TrailRecorder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------------

    def _append(self, record: dict[str, Any], payload: bytes) -> None:
        if self._closed:  # a plain read: close() sets it once, under the lock
            raise RuntimeError("the recorder is closed")
        try:
            active = self._journal.append(payload)
        except OSError as exc:
            _LOGGER.error("could not journal a CloudTrail record: %s", exc)
            raise TrailJournalUnavailable(
                "The CloudTrail record of this call could not be written, so the call is not acknowledged; "
                "retry the request."
            ) from exc
        with self._lock:
            self._recent.append(record)
        if _has_subscribers(self.bus):  # building the event costs a UUID and a copy: only for a listener
            self.bus.publish(to_eventbridge_event(record))
        if active < self.max_records_per_file:
            return
        if self._thread is not None:  # fold in the flusher, off the call's path
            self._wake.set()
        elif self._journal.rotate(at_least=self.max_records_per_file) is not None:
            try:
                self._fold_sealed()
            except Exception:  # the records are safe in the journal; the next flush retries
                _LOGGER.exception("could not write CloudTrail log files")

    def _fold_sealed(self) -> list[Path]:
        """Fold every sealed journal segment into log files, then delete it (oldest first)."""
        written: list[Path] = []
        with self._fold_lock:
            for segment in self._journal.sealed():
                queued = len(self._outbox)
                try:
                    written += self._fold(segment)
                except BaseException:  # the segment is folded again later: hand its files over only then
                    del self._outbox[queued:]
                    raise
                self._journal.discard(segment)
            outbox, self._outbox = self._outbox, []
        for region, body in outbox:
            for deliver in self._deliveries:
                try:
                    deliver(region, body)
                except Exception:  # the file is written; a delivery's failure is its own to report
                    _LOGGER.exception("a delivery of a CloudTrail log file failed")
        return written

    def _fold(self, segment: Path) -> list[Path]:
        """Write a segment's records into log files, one per region and day (and per file's worth).

        The entries' record JSON goes into the files as it is, never decoded and encoded again.
        """
        entries, torn = decode_frames(segment.read_bytes())
        if torn:
            _LOGGER.warning(
                "dropped a torn last entry (%d bytes, never acknowledged) of the journal segment %s", torn, segment
            )
        groups: dict[tuple[str, str], list[tuple[str, bytes]]] = {}
        for index, entry in enumerate(entries):
            try:
                region, event_time, body = split_entry(entry)
            except ValueError:  # a checksum-valid entry always parses; keep going if one ever does not
                _LOGGER.error("skipped an unreadable entry %d of the journal segment %s", index, segment)
                continue
            groups.setdefault((region, event_time[:10]), []).append((event_time, body))
        written: list[Path] = []
        for (region, day), records in groups.items():
            for start in range(0, len(records), self.max_records_per_file):
                batch = records[start : start + self.max_records_per_file]
                seed = f"{segment.name}/{region}/{day}/{start}".encode()
                written.append(self._write(region, batch, seed))
        return written

    def _write(self, region: str, batch: list[tuple[str, bytes]], seed: bytes) -> Path:
        first_time = batch[0][0]
        folder = log_file_dir(self.trail_dir, self.account, region, first_time)
        path = folder / log_file_name(self.account, region, first_time, seed=seed)
        body = b'{"Records":[' + b",".join(record for _, record in batch) + b"]}"
        write_log_body(path, body)
        with self._lock:
            self._files.append(path)
        if self._deliveries:
            self._outbox.append((region, body))
        return path

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.flush()
            except Exception:  # keep flushing later; the records wait in the journal
                _LOGGER.exception("could not flush CloudTrail records")


def _has_subscribers(bus: EventBus) -> bool:
    # the bus keeps its subscriptions in ``_subscribers``; should that ever change, publish every event
    return bool(getattr(bus, "_subscribers", True))
