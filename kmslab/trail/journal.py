"""An append-only journal: a CloudTrail record is in the journal before its call is answered.

The recorder appends each record here before the call is answered. How far the append goes before
it returns is the journal's sync policy (:data:`SyncPolicy`):

``write`` (the default)
    The entry is written into the segment file (``pwrite``): it is then in the operating system's
    page cache, so it survives the process being killed (kill -9, a crash of Python). A background
    syncer ``fdatasync``-s the segment at most :data:`DEFAULT_SYNC_INTERVAL` seconds later (group
    commit: one sync covers every entry written since the last one), and sealing or closing the
    journal syncs it too. A power loss or kernel crash can lose the entries of that last interval.
    This is the guarantee the key store gives: SQLite in WAL mode with ``synchronous=NORMAL``
    (:mod:`kmslab.kms._store`). SQLite documents that a commit in that mode survives an application
    crash but may be rolled back by a power loss or an OS crash, as it syncs only at checkpoints
    (https://www.sqlite.org/pragma.html#pragma_synchronous); the journal's loss window is shorter.
``fsync``
    The append returns only once the entry is written and synced, so it survives a power loss too.
    Appends from concurrent calls share one write and one sync (group commit): the first waiting
    caller becomes the leader and writes every entry gathered so far, the others wait for it.

The journal lives in segments, ``<trail dir>/.kmslab-journal/seg-<time>-<random>.journal``. The
recorder seals the active segment on its flush schedule, folds a sealed segment into CloudTrail log
files, then deletes it. A segment left by a crash is folded on the next start.

Each entry is framed with a length and a checksum (:mod:`kmslab.trail._frames`), so a torn last
entry (a crash in the middle of a write, never acknowledged) is dropped when the segment is read
back. A segment is zero-filled ahead of its entries (1 MiB at a time), so an append overwrites
blocks the file already has and its sync need not commit a new file size.

This module holds the sync policies, group commit and the directory lock; the segment files
themselves (creating, zero-filling, writing, cutting, sealing) are :mod:`kmslab.trail._segment`'s.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

from kmslab._fsutil import fsync_dir, open_private, private_dir
from kmslab.trail._frames import MAX_ENTRY, decode_frames, encode_frame
from kmslab.trail._segment import SegmentFiles
from kmslab.trail.errors import TrailError

try:  # POSIX: one process per trail directory
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_SYNC",
    "DEFAULT_SYNC_INTERVAL",
    "JOURNAL_DIR",
    "MAX_ENTRY",
    "SYNC_POLICIES",
    "Journal",
    "JournalInUse",
    "SyncPolicy",
    "decode_frames",
    "encode_frame",
]

_LOGGER = logging.getLogger(__name__)

#: the journal's folder inside the trail directory (hidden: it is not part of the bucket's layout)
JOURNAL_DIR = ".kmslab-journal"
#: how far an append goes before it returns: into the page cache (``write``) or onto the disk (``fsync``)
SyncPolicy = Literal["write", "fsync"]
SYNC_POLICIES: tuple[SyncPolicy, ...] = ("write", "fsync")
DEFAULT_SYNC: SyncPolicy = "write"
#: with ``write``, the longest a written entry waits for the background sync, in seconds
DEFAULT_SYNC_INTERVAL = 0.05


class JournalInUse(TrailError):
    """Another process holds the trail directory's journal."""


@dataclass
class _Batch:
    """Entries that one leader writes and syncs together (the ``fsync`` policy)."""

    frames: list[bytes] = field(default_factory=list)
    done: bool = False
    error: BaseException | None = None


class Journal(SegmentFiles):
    """The segments of one trail directory's journal, and how appends to the active one reach the disk.

    Args:
        trail_dir: the trail directory; the journal goes in its :data:`JOURNAL_DIR` folder.
        sync: ``write``: an append returns once written (it survives a killed process) and a
            background syncer syncs it within ``sync_interval``; ``fsync``: an append returns once
            synced (it survives a power loss).
        sync_interval: with ``write``, the longest a written entry waits for its sync, in seconds.

    Raises:
        JournalInUse: another live process holds this trail directory.
        ValueError: an unknown sync policy, or an interval that is not positive.
        OSError: the folder cannot be created or locked.
    """

    def __init__(
        self, trail_dir: Path, *, sync: SyncPolicy = DEFAULT_SYNC, sync_interval: float = DEFAULT_SYNC_INTERVAL
    ) -> None:
        if sync not in SYNC_POLICIES:
            raise ValueError(f"the journal's sync policy is one of {', '.join(SYNC_POLICIES)}, not {sync!r}")
        if not sync_interval > 0:
            raise ValueError("sync_interval must be positive")
        self.sync_interval = sync_interval
        directory = trail_dir / JOURNAL_DIR
        private_dir(directory)
        self._lock_fd = _lock(directory)
        super().__init__(directory, sync)
        self.sync_policy: SyncPolicy = sync
        self._open = _Batch()
        self._writing = False  # fsync: a leader is writing (it alone touches the active segment)
        self._sealing = 0  # fsync: rotations waiting: no new leader until they are done
        self._closed = False
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None
        if sync == "write":
            self._syncer = threading.Thread(target=self._sync_loop, name="kmslab-trail-syncer", daemon=True)
            self._syncer.start()

    @property
    def active_entries(self) -> int:
        """How many entries the active segment holds (0 when none is open)."""
        with self._cond:
            return self._entries

    def sealed(self) -> list[Path]:
        """Return the sealed segments still to fold, oldest first (leftovers of an earlier run included).

        Returns:
            A copy of the list.
        """
        with self._cond:
            return list(self._sealed)

    def append(self, payload: bytes) -> int:
        """Append one entry; return once it is written (``write``) or written and synced (``fsync``).

        Args:
            payload: the entry.

        Returns:
            How many entries the active segment holds now (this one and the ones before it, at least).

        Raises:
            OSError: the entry could not be written (or, with ``fsync``, synced): it is not in the journal.
            RuntimeError: the journal is closed.
        """
        frame = encode_frame(payload)
        if self.sync_policy == "write":
            return self._append_written(frame)
        return self._append_synced(frame)

    def sync(self) -> None:
        """Sync every entry written so far (what the background syncer does every ``sync_interval``).

        Raises:
            OSError: the sync failed; the entries stay marked unsynced, for the next try.
        """
        with self._cond:
            while self._syncing:
                self._cond.wait()
            if self._fd is None or not (self._dirty or self._new_name):
                return
            fd, new_name = self._fd, self._new_name
            self._dirty = self._new_name = False  # an entry written from now on marks it again
            self._syncing = True
        failed = True
        try:
            self._sync_fd(fd)
            if new_name:
                fsync_dir(self.directory)
            failed = False
        finally:
            with self._cond:
                self._syncing = False
                if failed:
                    self._dirty = True
                    self._new_name = self._new_name or new_name
                self._cond.notify_all()

    def rotate(self, *, at_least: int = 1) -> Path | None:
        """Seal the active segment when it holds ``at_least`` entries; later appends start a new one.

        Every entry of a sealed segment is synced; entries still waiting for a leader go to the next one.

        Args:
            at_least: seal only a segment with at least this many entries.

        Returns:
            The sealed segment, or None when nothing was sealed.
        """
        with self._cond:
            self._sealing += 1
            try:
                while self._writing:
                    self._cond.wait()
                if self._fd is None or self._entries < max(1, at_least):
                    return None
                detached = self._detach()
            finally:
                self._sealing -= 1
                self._cond.notify_all()
        return self._finish_seal(detached)

    def discard(self, segment: Path) -> None:
        """Delete a folded segment, durably.

        Args:
            segment: a segment from :meth:`sealed`.
        """
        segment.unlink(missing_ok=True)
        fsync_dir(self.directory)
        with self._cond:
            if segment in self._sealed:
                self._sealed.remove(segment)

    def close(self) -> Path | None:
        """Refuse later appends, let pending ones land, stop the syncer and seal (and sync) the active segment.

        The directory stays held until :meth:`release`, so the caller can fold the sealed segments first.

        Returns:
            The sealed segment, or None.
        """
        self._stop.set()
        if self._syncer is not None and self._syncer is not threading.current_thread():
            self._syncer.join()
        with self._cond:
            self._closed = True
            while self._writing or self._open.frames:  # appends under way land first
                self._cond.wait()
            detached = self._detach()
        return self._finish_seal(detached)

    def release(self) -> None:
        """Let another process open this trail directory's journal (after :meth:`close`)."""
        with self._cond:
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # closing the descriptor releases the lock
                self._lock_fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
        self.release()

    # -- internals ---------------------------------------------------------------------------------

    def _append_written(self, frame: bytes) -> int:
        """``write``: copy the entry into the mapped segment under the condition; the syncer syncs it later.

        The mapping is shared with the page cache, so the entry is in the file (for any reader, and
        after the process is killed) as soon as it is copied, without a system call per entry.
        """
        with self._cond:
            if self._closed:
                raise RuntimeError("the journal is closed")
            end = self._size + len(frame)
            try:
                if self._fd is None:
                    self._create()
                if self._map is None or end > len(self._map):
                    self._grow(end)
            except OSError:
                self._cut_failed_write()
                raise
            assert self._map is not None
            self._map[self._size : end] = frame
            self._size = end
            self._entries += 1
            self._dirty = True
            return self._entries

    def _append_synced(self, frame: bytes) -> int:
        """``fsync``: group commit; the first waiting caller writes and syncs every entry gathered so far."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the journal is closed")
            batch = self._open
            batch.frames.append(frame)
            while not batch.done:
                if self._writing or self._sealing:
                    self._cond.wait()
                    continue
                self._writing = True  # lead: write everything gathered so far, ours included
                current, self._open = self._open, _Batch()
                data = b"".join(current.frames)
                self._cond.release()
                try:
                    self._write(data)
                    assert self._fd is not None
                    self._sync_fd(self._fd)
                except OSError as exc:
                    current.error = exc
                finally:
                    self._cond.acquire()
                    if current.error is None:
                        self._size += len(data)
                        self._entries += len(current.frames)
                    else:
                        self._cut_failed_write()
                    current.done = True
                    self._writing = False
                    self._cond.notify_all()
            if batch.error is not None:
                raise batch.error
            return self._entries

    def _sync_loop(self) -> None:
        """``write``: sync what was written, every ``sync_interval`` seconds, until the journal closes."""
        while not self._stop.wait(self.sync_interval):
            try:
                self.sync()
            except OSError as exc:  # the entries stay marked unsynced; the next round retries
                _LOGGER.error("could not sync the trail journal in %s: %s", self.directory, exc)


def _lock(directory: Path) -> int | None:
    if fcntl is None:  # pragma: no cover - Windows
        return None
    fd = open_private(directory / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JournalInUse(
            f"the trail directory {directory.parent} is in use by another process; "
            "stop it, or give this one another --trail-dir"
        ) from None
    except OSError:
        os.close(fd)
        raise
    return fd
