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
"""

from __future__ import annotations

import bisect
import logging
import mmap
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

from kmslab._fsutil import fsync_dir, open_private, private_dir
from kmslab.trail._frames import MAX_ENTRY, decode_frames, encode_frame
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
_SUFFIX = ".journal"
_sync = getattr(os, "fdatasync", os.fsync)
_pwrite = os.pwrite
#: zeros written ahead in a segment (a segment holds about 500 records of about 1 KiB before it is folded)
_PREALLOCATE = 1024 * 1024  # appends: fdatasync also syncs the size that makes them readable


class JournalInUse(TrailError):
    """Another process holds the trail directory's journal."""


@dataclass
class _Batch:
    """Entries that one leader writes and syncs together (the ``fsync`` policy)."""

    frames: list[bytes] = field(default_factory=list)
    done: bool = False
    error: BaseException | None = None


@dataclass(frozen=True)
class _Detached:
    """A segment taken off the journal by a seal, to close (and sync) outside the condition."""

    fd: int
    path: Path
    size: int
    unsynced: bool  # written entries or its new name not synced yet (the ``write`` policy)
    mapped: mmap.mmap | None  # the ``write`` policy's mapping of the segment


class Journal:
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
        self.sync_policy: SyncPolicy = sync
        self.sync_interval = sync_interval
        self.directory = trail_dir / JOURNAL_DIR
        private_dir(self.directory)
        self._lock_fd = _lock(self.directory)
        self._cond = threading.Condition(threading.Lock())
        # sealed segments not folded yet, oldest first; a crash or a failed fold leaves them for the next start
        self._sealed: list[Path] = sorted(self.directory.glob(f"seg-*{_SUFFIX}"))
        self._open = _Batch()
        self._writing = False  # fsync: a leader is writing (it alone touches the active segment)
        self._sealing = 0  # fsync: rotations waiting: no new leader until they are done
        self._closed = False
        self._fd: int | None = None
        self._map: mmap.mmap | None = None  # write: the active segment, mapped (shared with the page cache)
        self._path: Path | None = None
        self._size = 0  # bytes of entries in the active segment (written; with fsync, synced too)
        self._capacity = 0  # bytes of the active segment written ahead (entries, then zeros)
        self._entries = 0  # entries of the active segment
        self._dirty = False  # write: entries written to the active segment since its last sync
        self._new_name = False  # write: the active segment's directory entry is not synced yet
        self._syncing = False  # write: the syncer is syncing the active segment (its descriptor stays open)
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
            _sync(fd)
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

    def _grow(self, end: int) -> None:
        """``write``: zero-fill the active segment past ``end`` bytes if needed, and map all of it."""
        assert self._fd is not None
        if end > self._capacity:
            self._zero_fill(end + _PREALLOCATE)
        if self._map is not None:
            self._map.close()  # its pages stay in the page cache, dirty until synced
            self._map = None
        self._map = mmap.mmap(self._fd, self._capacity)

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
                    _sync(self._fd)
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

    def _write(self, data: bytes) -> None:
        """Write entries after the active segment's last one (by the one writer: the condition or the lead held).

        Entries overwrite zeros written ahead, so their sync need not commit a new file size (no
        file-system journal commit): that halves its cost on ext4.
        """
        if self._fd is None:
            self._create()
        assert self._fd is not None
        end = self._size + len(data)
        if end > self._capacity:
            self._zero_fill(end + _PREALLOCATE)
        view = memoryview(data)
        offset = self._size
        while view:
            written = _pwrite(self._fd, view, offset)
            view, offset = view[written:], offset + written

    def _create(self) -> None:
        name = f"seg-{time.time_ns():020d}-{secrets.token_hex(4)}{_SUFFIX}"
        path = self.directory / name
        fd = open_private(path, os.O_RDWR | os.O_EXCL)  # read too: a shared mapping needs it
        self._capacity = 0
        try:
            self._fd = fd
            self._zero_fill(_PREALLOCATE)
            if self.sync_policy == "fsync":  # the name is durable before any entry in it is acknowledged
                fsync_dir(self.directory)
        except OSError:
            self._fd = None
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._path, self._size, self._entries = path, 0, 0
        self._new_name = self.sync_policy == "write"  # the syncer syncs the directory too

    def _zero_fill(self, capacity: int) -> None:
        """Write zeros up to ``capacity`` bytes (and, with ``fsync``, sync them, size included)."""
        assert self._fd is not None
        zeros = bytes(min(capacity - self._capacity, _PREALLOCATE))
        while self._capacity < capacity:
            chunk = zeros[: capacity - self._capacity]
            self._capacity += _pwrite(self._fd, chunk, self._capacity)
        if self.sync_policy == "fsync":
            os.fsync(self._fd)
        else:  # the syncer's next fdatasync commits the new size with the entries
            self._dirty = True

    def _cut_failed_write(self) -> None:
        """Cut a failed write off the active segment and seal it (the condition held); later entries start anew."""
        if self._fd is None:
            return
        while self._syncing:
            self._cond.wait()
        try:
            os.ftruncate(self._fd, self._size)
            _sync(self._fd)
        except OSError:  # the damaged tail is then dropped when the segment is read back
            _LOGGER.warning("could not cut a failed write off the journal segment %s", self._path)
        self._dirty = False
        detached = self._detach()
        if detached is not None:
            if detached.mapped is not None:
                detached.mapped.close()
            os.close(detached.fd)
            self._keep_sealed(detached)

    def _detach(self) -> _Detached | None:
        """Take the active segment off the journal (the condition held); later appends start a new one."""
        while self._syncing:  # the syncer holds its descriptor
            self._cond.wait()
        fd, path = self._fd, self._path
        detached = None
        if fd is not None and path is not None:
            detached = _Detached(fd, path, self._size, self._dirty or self._new_name, self._map)
        self._fd, self._map, self._path, self._size, self._entries = None, None, None, 0, 0
        self._capacity, self._dirty, self._new_name = 0, False, False
        return detached

    def _finish_seal(self, detached: _Detached | None) -> Path | None:
        """Sync (``write``) and close a detached segment; keep it for folding unless it is empty."""
        if detached is None:
            return None
        try:
            if detached.mapped is not None:
                detached.mapped.close()  # unmapped, its written pages stay in the page cache for the sync
            if detached.unsynced and detached.size:
                _sync(detached.fd)
                fsync_dir(self.directory)
        except OSError as exc:  # its entries are written (in the page cache); the fold syncs them into log files
            _LOGGER.warning("could not sync the journal segment %s: %s", detached.path, exc)
        finally:
            os.close(detached.fd)
        with self._cond:
            return self._keep_sealed(detached)

    def _keep_sealed(self, detached: _Detached) -> Path | None:
        if detached.size == 0:
            detached.path.unlink(missing_ok=True)
            return None
        bisect.insort(self._sealed, detached.path)  # names sort by creation time
        return detached.path

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
