"""The symmetric ciphertext blob: a small versioned binary format.

Layout (version 1), all lengths in bytes::

    0   2   magic  b"KL"
    2   1   version 0x01
    3   1   n = length of the key ID
    4   n   key ID (ASCII: a UUID or ``mrk-<32 hex>``; the ID, not the ARN, so a
            multi-Region replica in another region decrypts it)
    4+n 32  backing key ID (the raw 32 bytes of the 64-hex KeyMaterialId)
    36+n 12 GCM nonce (random)
    48+n .. AES-256-GCM ciphertext, then the 16-byte tag

The additional authenticated data is the header (bytes 0 .. 36+n) followed by the
canonical encryption context, so changing any header byte, the body, the tag or the
context makes decryption fail.

The canonical encryption context: a 2-byte count, then each pair sorted by the UTF-8
bytes of its key, as 2-byte length + key, 2-byte length + value (order-independent).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag

from kmslab.kms._crypto import aesgcm
from kmslab.kms.errors import InvalidCiphertextException

MAGIC = b"KL"
VERSION = 1
NONCE_SIZE = 12
TAG_SIZE = 16
MATERIAL_ID_SIZE = 32


def canonical_context(context: Mapping[str, str] | None) -> bytes:
    """Serialize an encryption context canonically (order-independent).

    Args:
        context: the encryption context, or None.

    Returns:
        The canonical bytes.
    """
    if not context:
        return b"\x00\x00"
    pairs = sorted((k.encode(), v.encode()) for k, v in context.items())
    parts = [struct.pack(">H", len(pairs))]
    for key, value in pairs:
        parts.append(struct.pack(">H", len(key)) + key + struct.pack(">H", len(value)) + value)
    return b"".join(parts)


@dataclass(frozen=True)
class Header:
    """The parsed, not yet authenticated, header of a ciphertext blob.

    Args:
        key_id: the key ID the blob names.
        material_id: the backing key ID (64 hex).
        header: the raw header bytes (part of the AAD).
        nonce: the GCM nonce.
        body: ciphertext and tag.
    """

    key_id: str
    material_id: str
    header: bytes
    nonce: bytes
    body: bytes


def parse(blob: bytes) -> Header:
    """Split a ciphertext blob into its parts.

    Args:
        blob: the CiphertextBlob.

    Returns:
        The header fields.

    Raises:
        InvalidCiphertextException: the blob is not in this format.
    """
    if len(blob) < 4 or blob[:2] != MAGIC or blob[2] != VERSION:
        raise InvalidCiphertextException("")
    n = blob[3]
    end = 4 + n + MATERIAL_ID_SIZE
    if n == 0 or len(blob) < end + NONCE_SIZE + TAG_SIZE:
        raise InvalidCiphertextException("")
    try:
        key_id = blob[4 : 4 + n].decode("ascii")
    except UnicodeDecodeError:
        raise InvalidCiphertextException("") from None
    return Header(
        key_id=key_id,
        material_id=blob[4 + n : end].hex(),
        header=blob[:end],
        nonce=blob[end : end + NONCE_SIZE],
        body=blob[end + NONCE_SIZE :],
    )


def seal(key_id: str, material_id: str, material: bytes, plaintext: bytes, context: Mapping[str, str] | None) -> bytes:
    """Encrypt under one backing key and build the blob.

    Args:
        key_id: the KMS key ID.
        material_id: the backing key ID (64 hex).
        material: the 32-byte backing key.
        plaintext: the data.
        context: the encryption context.

    Returns:
        The ciphertext blob.
    """
    kid = key_id.encode("ascii")
    header = MAGIC + bytes((VERSION, len(kid))) + kid + bytes.fromhex(material_id)
    nonce = os.urandom(NONCE_SIZE)
    body = aesgcm(material).encrypt(nonce, plaintext, header + canonical_context(context))
    return header + nonce + body


def open_blob(parsed: Header, material: bytes, context: Mapping[str, str] | None) -> bytes:
    """Authenticate and decrypt a parsed blob.

    Args:
        parsed: the blob's parts.
        material: the backing key named by the header.
        context: the encryption context given with the request.

    Returns:
        The plaintext.

    Raises:
        InvalidCiphertextException: tampering, or the wrong or a missing context.
    """
    try:
        return aesgcm(material).decrypt(parsed.nonce, parsed.body, parsed.header + canonical_context(context))
    except InvalidTag:
        raise InvalidCiphertextException("") from None
