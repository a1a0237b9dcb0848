"""An append-only, group-committed journal: a CloudTrail record is on disk before its call is answered.

The recorder appends each record here and returns only once the append is durable (written and
``fdatasync``-ed). Appends from concurrent calls share one write and one sync (group commit): the
first waiting caller becomes the leader and writes every entry gathered so far, the others wait for it.

The journal lives in segments, ``<trail dir>/.kmslab-journal/seg-<time>-<random>.journal``. The
recorder seals the active segment on its flush schedule, folds a sealed segment into CloudTrail log
files, then deletes it. A segment left by a crash is folded on the next start.

Each entry is framed as::

    b"KTJ1" | length (4 bytes, big-endian) | CRC-32 of length + payload (4 bytes) | payload

so a torn last entry (a crash in the middle of a write, never acknowledged) is detected and dropped
when the segment is read back. A segment is zero-filled ahead of its entries (1 MiB at a time), so
an append overwrites blocks the file already has and its sync need not commit a new file size.
"""

from __future__ import annotations

import logging
import os
import secrets
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from kmslab.trail._files import fsync_dir, make_private_dirs, open_private
from kmslab.trail.errors import TrailError

try:  # POSIX: one process per trail directory
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["JOURNAL_DIR", "Journal", "JournalInUse", "decode_frames", "encode_frame"]

_LOGGER = logging.getLogger(__name__)

#: the journal's folder inside the trail directory (hidden: it is not part of the bucket's layout)
JOURNAL_DIR = ".kmslab-journal"
_MAGIC = b"KTJ1"
_HEADER = struct.Struct(">4sII")
_LENGTH = struct.Struct(">I")
#: an entry longer than this is taken for garbage (a record is a few KiB at most)
MAX_ENTRY = 64 * 1024 * 1024
_SUFFIX = ".journal"
_sync = getattr(os, "fdatasync", os.fsync)
#: zeros written ahead in a segment (a segment holds about 500 records of about 1 KiB before it is folded)
_PREALLOCATE = 1024 * 1024  # appends: fdatasync also syncs the size that makes them readable


class JournalInUse(TrailError):
    """Another process holds the trail directory's journal."""


def encode_frame(payload: bytes) -> bytes:
    """Frame one journal entry (magic, length, checksum, payload).

    Args:
        payload: the entry.

    Returns:
        The bytes to append.

    Raises:
        ValueError: the payload is longer than :data:`MAX_ENTRY`.
    """
    if len(payload) > MAX_ENTRY:
        raise ValueError(f"a journal entry is limited to {MAX_ENTRY} bytes")
    length = _LENGTH.pack(len(payload))
    return _HEADER.pack(_MAGIC, len(payload), zlib.crc32(payload, zlib.crc32(length))) + payload


def decode_frames(data: bytes) -> tuple[list[bytes], int]:
    """Read the entries of a segment, up to the first incomplete or damaged one.

    Args:
        data: the segment's bytes (entries, then the zeros written ahead of them).

    Returns:
        (the entries, the number of bytes after the last good entry: 0 unless the tail is torn).
    """
    entries: list[bytes] = []
    offset = 0
    size = len(data)
    while offset + _HEADER.size <= size:
        magic, length, checksum = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        end = start + length
        if magic != _MAGIC or length > MAX_ENTRY or end > size:
            break
        payload = data[start:end]
        if zlib.crc32(payload, zlib.crc32(_LENGTH.pack(length))) != checksum:
            break
        entries.append(payload)
        offset = end
    if data.count(0, offset) == size - offset:  # only the zeros written ahead of entries: a clean end
        return entries, 0
    return entries, size - offset


@dataclass
class _Batch:
    """Entries that one leader writes and syncs together."""

    frames: list[bytes] = field(default_factory=list)
    done: bool = False
    error: BaseException | None = None


class Journal:
    """The segments of one trail directory's journal, and the group commit of appends to the active one.

    Args:
        trail_dir: the trail directory; the journal goes in its :data:`JOURNAL_DIR` folder.

    Raises:
        JournalInUse: another live process holds this trail directory.
        OSError: the folder cannot be created or locked.
    """

    def __init__(self, trail_dir: Path) -> None:
        self.directory = trail_dir / JOURNAL_DIR
        make_private_dirs(self.directory)
        self._lock_fd = _lock(self.directory)
        self._cond = threading.Condition(threading.Lock())
        # sealed segments not folded yet, oldest first; a crash or a failed fold leaves them for the next start
        self._sealed: list[Path] = sorted(self.directory.glob(f"seg-*{_SUFFIX}"))
        self._open = _Batch()
        self._writing = False  # a leader is writing (it alone touches the active segment)
        self._sealing = 0  # rotations waiting: no new leader until they are done
        self._closed = False
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0  # durable bytes of the active segment
        self._capacity = 0  # bytes of the active segment written ahead (entries, then zeros)
        self._entries = 0  # durable entries of the active segment

    @property
    def active_entries(self) -> int:
        """How many durable entries the active segment holds (0 when none is open)."""
        with self._cond:
            return self._entries

    def sealed(self) -> list[Path]:
        """Return the sealed segments still to fold, oldest first (leftovers of an earlier run included).

        Returns:
            A copy of the list.
        """
        with self._cond:
            return list(self._sealed)

    def append(self, payload: bytes) -> None:
        """Append one entry and return once it is durable.

        Args:
            payload: the entry.

        Raises:
            OSError: the entry could not be written or synced (it is not in the journal).
            RuntimeError: the journal is closed.
        """
        frame = encode_frame(payload)
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
                self._cond.release()
                try:
                    current.error = self._write(current.frames)
                finally:
                    self._cond.acquire()
                    current.done = True
                    self._writing = False
                    self._cond.notify_all()
            if batch.error is not None:
                raise batch.error

    def rotate(self, *, at_least: int = 1) -> Path | None:
        """Seal the active segment when it holds ``at_least`` entries; later appends start a new one.

        Every entry of a sealed segment is durable; entries still waiting for a leader go to the next one.

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
                return self._seal()
            finally:
                self._sealing -= 1
                self._cond.notify_all()

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
        """Refuse later appends, let pending ones land and seal the active segment.

        The directory stays held until :meth:`release`, so the caller can fold the sealed segments first.

        Returns:
            The sealed segment, or None.
        """
        with self._cond:
            self._closed = True
            while self._writing or self._open.frames:  # appends under way land first
                self._cond.wait()
            return self._seal() if self._fd is not None else None

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

    def _write(self, frames: list[bytes]) -> BaseException | None:
        """Write and sync one batch (the leader, without the condition held).

        Entries overwrite zeros written ahead, so the sync need not commit a new file size (no
        file-system journal commit): that halves its cost on ext4.
        """
        data = b"".join(frames)
        try:
            if self._fd is None:
                self._create()
            assert self._fd is not None
            end = self._size + len(data)
            if end > self._capacity:
                self._zero_fill(end + _PREALLOCATE)
            view = memoryview(data)
            offset = self._size
            while view:
                written = os.pwrite(self._fd, view, offset)
                view, offset = view[written:], offset + written
            _sync(self._fd)
        except OSError as exc:
            self._cut_failed_write()
            return exc
        with self._cond:
            self._size += len(data)
            self._entries += len(frames)
        return None

    def _create(self) -> None:
        name = f"seg-{time.time_ns():020d}-{secrets.token_hex(4)}{_SUFFIX}"
        path = self.directory / name
        fd = open_private(path, os.O_WRONLY | os.O_EXCL)
        self._capacity = 0
        try:
            self._fd = fd
            self._zero_fill(_PREALLOCATE)
            fsync_dir(self.directory)  # the segment's name is durable before any entry in it is acknowledged
        except OSError:
            self._fd = None
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        with self._cond:
            self._fd, self._path, self._size, self._entries = fd, path, 0, 0

    def _zero_fill(self, capacity: int) -> None:
        """Write zeros up to ``capacity`` bytes and sync them, size included."""
        assert self._fd is not None
        zeros = bytes(min(capacity - self._capacity, _PREALLOCATE))
        while self._capacity < capacity:
            chunk = zeros[: capacity - self._capacity]
            self._capacity += os.pwrite(self._fd, chunk, self._capacity)
        os.fsync(self._fd)

    def _cut_failed_write(self) -> None:
        """Cut a failed write off the active segment and seal it: later entries go to a fresh segment."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, self._size)
            _sync(self._fd)
        except OSError:  # the damaged tail is then dropped when the segment is read back
            _LOGGER.warning("could not cut a failed write off the journal segment %s", self._path)
        with self._cond:
            self._seal()

    def _seal(self) -> Path | None:
        """Close the active segment; keep it for folding unless it is empty (the condition held)."""
        fd, path, size = self._fd, self._path, self._size
        self._fd, self._path, self._size, self._entries = None, None, 0, 0
        if fd is not None:
            os.close(fd)
        if path is None:
            return None
        if size == 0:
            path.unlink(missing_ok=True)
            return None
        self._sealed.append(path)
        return path


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
