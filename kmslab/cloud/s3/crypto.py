"""Object bodies at rest: AES-256-GCM in fixed-size segments, each bound to its place in the object.

An object (or one part of a multipart upload) is a run of segments of at most 256 KiB of
plaintext. Segment ``i`` of part ``p`` is sealed with the object's key, the nonce ``p || i``
(4 + 8 bytes; the key is unique per object, so nonces never repeat under one key) and the
associated data ``uid|p|i|final``: a segment moved, dropped, reordered or cut off at the end fails
to open. Memory stays bounded by one segment whatever the object's size, and a ranged GET opens
only the segments it needs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kmslab.cloud.errors import CloudError

SEGMENT = 256 * 1024
TAG = 16


def derive_object_key(data_key: bytes, salt: bytes) -> bytes:
    """Derive an object's own key from a data key (an object's, or a bucket-level one) and its salt.

    Args:
        data_key: the data key.
        salt: the object's random salt.

    Returns:
        A 32-byte AES key.
    """
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"kmslab s3 object key").derive(data_key)


def _aad(uid: str, part: int, index: int, final: bool) -> bytes:
    return f"{uid}|{part}|{index}|{int(final)}".encode()


def _nonce(part: int, index: int) -> bytes:
    return part.to_bytes(4, "big") + index.to_bytes(8, "big")


def cipher_size(plain_size: int) -> int:
    """The size on disk of ``plain_size`` bytes of plaintext.

    Args:
        plain_size: the plaintext size.

    Returns:
        The ciphertext size.
    """
    return plain_size + TAG * segments(plain_size)


def segments(plain_size: int) -> int:
    """How many segments hold ``plain_size`` bytes (at least one: an empty object has an empty final segment).

    Args:
        plain_size: the plaintext size.

    Returns:
        The segment count.
    """
    return max(1, -(-plain_size // SEGMENT))


class SegmentWriter:
    """Seal plaintext into segments and write them to a file.

    Args:
        key: the object key.
        uid: the object version's unique ID.
        part: the part number (1 for a single PUT).
        out: the file to write ciphertext to.
    """

    def __init__(self, key: bytes, uid: str, part: int, out: BinaryIO) -> None:
        self._aead = AESGCM(key)
        self._uid = uid
        self._part = part
        self._out = out
        self._buf = bytearray()
        self._index = 0
        self.size = 0

    def write(self, data: bytes) -> None:
        """Add plaintext.

        Args:
            data: the next bytes.
        """
        self._buf += data
        self.size += len(data)
        while len(self._buf) > SEGMENT:
            self._emit(bytes(self._buf[:SEGMENT]), final=False)
            del self._buf[:SEGMENT]

    def finish(self) -> None:
        """Seal the last segment (marked final)."""
        self._emit(bytes(self._buf), final=True)
        self._buf = bytearray()

    def _emit(self, plain: bytes, *, final: bool) -> None:
        aad = _aad(self._uid, self._part, self._index, final)
        self._out.write(self._aead.encrypt(_nonce(self._part, self._index), plain, aad))
        self._index += 1


def read_plain(path: Path, key: bytes, uid: str, part: int, plain_size: int, start: int, end: int) -> Iterator[bytes]:
    """Open the segments covering plaintext bytes ``start..end`` (inclusive) of one part.

    Args:
        path: the part's ciphertext file.
        key: the object key.
        uid: the object version's unique ID.
        part: the part number.
        plain_size: the part's plaintext size.
        start: the first plaintext byte wanted.
        end: the last plaintext byte wanted.

    Yields:
        Plaintext slices, in order.

    Raises:
        CloudError: a segment does not open (the blob was altered).
    """
    if plain_size == 0 or end < start:
        return
    aead = AESGCM(key)
    count = segments(plain_size)
    first, last = start // SEGMENT, end // SEGMENT
    with path.open("rb") as blob:
        blob.seek(first * (SEGMENT + TAG))
        for index in range(first, last + 1):
            final = index == count - 1
            length = (plain_size - index * SEGMENT if final else SEGMENT) + TAG
            sealed = blob.read(length)
            try:
                plain = aead.decrypt(_nonce(part, index), sealed, _aad(uid, part, index, final))
            except InvalidTag:
                raise CloudError("InternalError", "The stored object failed its integrity check.", 500) from None
            lo = start - index * SEGMENT if index == first else 0
            hi = end - index * SEGMENT + 1 if index == last else len(plain)
            yield plain[lo:hi]


def new_uid() -> str:
    """Return a fresh object version ID for blobs and associated data.

    Returns:
        32 hex characters.
    """
    return os.urandom(16).hex()
