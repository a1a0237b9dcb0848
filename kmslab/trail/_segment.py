"""The segment files of a trail journal: creating, zero-filling, writing, cutting and sealing them.

:class:`SegmentFiles` holds the active segment's descriptor, mapping and sizes, and the list of sealed
segments; :class:`kmslab.trail.journal.Journal` builds its sync policies (``write``, ``fsync``) and
group commit on top. Every method here runs with the journal's condition held, or by the one writer
that leads a group commit, as its docstring says.
"""

from __future__ import annotations

import bisect
import logging
import mmap
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kmslab._fsutil import fsync_dir, open_private

_LOGGER = logging.getLogger("kmslab.trail.journal")

SUFFIX = ".journal"
_sync = getattr(os, "fdatasync", os.fsync)  # tests replace it (and _pwrite) to fail a sync
_pwrite = os.pwrite
#: zeros written ahead in a segment (a segment holds about 500 records of about 1 KiB before it is folded)
_PREALLOCATE = 1024 * 1024  # appends: fdatasync also syncs the size that makes them readable


@dataclass(frozen=True)
class _Detached:
    """A segment taken off the journal by a seal, to close (and sync) outside the condition."""

    fd: int
    path: Path
    size: int
    unsynced: bool  # written entries or its new name not synced yet (the ``write`` policy)
    mapped: mmap.mmap | None  # the ``write`` policy's mapping of the segment


class SegmentFiles:
    """The active segment file of a journal directory, and its sealed segments still to fold.

    Args:
        directory: the journal's folder (created and locked by the caller).
        sync_policy: ``write`` or ``fsync`` (see :data:`kmslab.trail.journal.SyncPolicy`).
    """

    def __init__(self, directory: Path, sync_policy: Literal["write", "fsync"]) -> None:
        self.directory = directory
        self.sync_policy = sync_policy
        self._cond = threading.Condition(threading.Lock())
        # sealed segments not folded yet, oldest first; a crash or a failed fold leaves them for the next start
        self._sealed: list[Path] = sorted(self.directory.glob(f"seg-*{SUFFIX}"))
        self._fd: int | None = None
        self._map: mmap.mmap | None = None  # write: the active segment, mapped (shared with the page cache)
        self._path: Path | None = None
        self._size = 0  # bytes of entries in the active segment (written; with fsync, synced too)
        self._capacity = 0  # bytes of the active segment written ahead (entries, then zeros)
        self._entries = 0  # entries of the active segment
        self._dirty = False  # write: entries written to the active segment since its last sync
        self._new_name = False  # write: the active segment's directory entry is not synced yet
        self._syncing = False  # write: the syncer is syncing the active segment (its descriptor stays open)

    def _sync_fd(self, fd: int) -> None:
        """Sync a segment's data (``fdatasync`` where there is one)."""
        _sync(fd)

    def _grow(self, end: int) -> None:
        """``write``: zero-fill the active segment past ``end`` bytes if needed, and map all of it."""
        assert self._fd is not None
        if end > self._capacity:
            self._zero_fill(end + _PREALLOCATE)
        if self._map is not None:
            self._map.close()  # its pages stay in the page cache, dirty until synced
            self._map = None
        self._map = mmap.mmap(self._fd, self._capacity)

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
        name = f"seg-{time.time_ns():020d}-{secrets.token_hex(4)}{SUFFIX}"
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
