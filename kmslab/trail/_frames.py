"""The framing of journal entries: magic, length and CRC-32, so a torn or damaged tail is detected.

Each entry is framed as::

    b"KTJ1" | length (4 bytes, big-endian) | CRC-32 of length + payload (4 bytes) | payload

A segment's entries are followed by the zeros written ahead of them; reading stops at the first
incomplete or damaged entry (a crash in the middle of a write, never acknowledged).
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["MAX_ENTRY", "decode_frames", "encode_frame"]

_MAGIC = b"KTJ1"
_HEADER = struct.Struct(">4sII")
_LENGTH = struct.Struct(">I")
#: an entry longer than this is taken for garbage (a record is a few KiB at most)
MAX_ENTRY = 64 * 1024 * 1024


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
