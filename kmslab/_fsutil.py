"""Private, crash-safe files: directories 0700, files 0600, whole-file writes that never tear.

The local KMS data directory and the CloudTrail directory hold the sealed keys, the root key and
the audit record; no other local user needs to read them. Modes are set explicitly (not left to
the umask), and a file replaced with :func:`write_private_atomic` is either the old content or
the new one after a crash, never a mix or an empty file: the new content goes to a temporary
file in the same directory, is flushed to disk (``fsync``), renamed over the target, and the
directory is flushed too so the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "fsync_dir",
    "open_private",
    "private_dir",
    "private_file",
    "write_private_atomic",
    "write_private_stream",
]

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | Path) -> Path:
    """Create a directory (and missing parents) readable only by its owner.

    Directories this call creates get mode 0700 whatever the umask. An existing directory is left as
    it is (it may be a shared parent such as ``/tmp``), except the leaf itself when it is ours and
    group- or world-accessible: that one is tightened to 0700.

    Args:
        path: the directory.

    Returns:
        The directory as a Path.

    Raises:
        OSError: it cannot be created (or ``path`` is a file).
    """
    directory = Path(path)
    missing: list[Path] = []
    probe = directory
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for item in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            item.mkdir(DIR_MODE)
        item.chmod(DIR_MODE)
    if not missing:
        info = directory.stat()
        if info.st_uid == os.getuid() and info.st_mode & 0o077 and directory.is_dir():
            directory.chmod(DIR_MODE)
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory} is not a directory")
    return directory


def private_file(path: str | Path) -> Path:
    """Make sure a file exists with mode 0600 (created empty if missing; an existing one is tightened).

    Use before handing the path to a library that creates the file with the umask's mode (SQLite
    then gives its ``-wal`` and ``-shm`` files the database file's mode).

    Args:
        path: the file.

    Returns:
        The file as a Path.

    Raises:
        OSError: it cannot be created or its mode changed.
    """
    file = Path(path)
    fd = os.open(file, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return file


def fsync_dir(path: str | Path) -> None:
    """Flush a directory's entries to disk (so a rename or a new file in it survives a crash).

    Args:
        path: the directory.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private_atomic(path: str | Path, data: bytes, *, replace: bool = True) -> Path:
    """Write a whole file atomically with mode 0600: temporary file, fsync, rename, fsync the directory.

    Args:
        path: the file to write.
        data: its complete content.
        replace: overwrite an existing file; with False an existing file is left untouched and
            :class:`FileExistsError` is raised (the new file appears whole or not at all).

    Returns:
        The file as a Path.

    Raises:
        FileExistsError: ``replace`` is False and the file exists.
        OSError: the file cannot be written.
    """
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")  # mode 0600
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            tmp.replace(target)
        else:
            os.link(tmp, target)  # fails if the target exists: never replaces it
            tmp.unlink()
        fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def open_private(path: Path, flags: int) -> int:
    """Open (creating it 0600 if missing) a file and return its descriptor.

    Args:
        path: the file.
        flags: ``os.O_*`` flags; ``O_CREAT`` and ``O_CLOEXEC`` are added.

    Returns:
        The file descriptor.
    """
    fd = os.open(path, flags | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    with contextlib.suppress(AttributeError, OSError):  # no fchmod on Windows
        os.fchmod(fd, FILE_MODE)  # an older file of the same name keeps its mode otherwise
    return fd


def write_private_stream(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Like :func:`write_private_atomic`, for content written through a file object (e.g. gzip).

    The temporary file has a fixed hidden name beside the target, so a crash leaves at most that one
    file, which the next write to the same path replaces.

    Args:
        path: the final path (its directory must exist).
        write: writes the content to the open binary file.

    Raises:
        OSError: the file cannot be written; nothing is left behind.
    """
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        fd = open_private(temporary, os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(fd, "wb") as raw:
            write(raw)
            raw.flush()
            os.fsync(raw.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
