"""Private file helpers of the trail package: owner-only modes, directory syncs, atomic replacement.

Everything the recorder creates is readable by its owner only (files 0600, directories 0700): a
trail names every principal, key and encryption context of the account.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

FILE_MODE = 0o600
DIR_MODE = 0o700


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents, each one 0700 (``mkdir -p`` leaves parents at the umask).

    Directories that already exist are left as they are.

    Args:
        path: the directory.

    Raises:
        OSError: a directory cannot be created.
    """
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not directory.is_dir():
                raise
        else:
            directory.chmod(DIR_MODE)  # mkdir's mode is masked by the umask; this is exact


def fsync_dir(path: Path) -> None:
    """Make the entries of a directory (new, renamed or removed files) durable.

    A no-op where directories cannot be opened (Windows).

    Args:
        path: the directory.
    """
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(path, flags)
    except (PermissionError, IsADirectoryError):  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write a file through a hidden temporary name: write, fsync, rename, fsync the directory.

    A crash at any point leaves either no file or the whole file under ``path``; never a torn one.

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
