"""Recognise input that is not an envelope message but something a learner may take for one.

The common mix-up: a ciphertext blob from KMS ``Encrypt`` (``aws kms encrypt``), raw or as the base64 text
the AWS CLI prints, handed to ``kmslab envelope decrypt``. The local KMS writes its blobs in a small format
(see ``kmslab/kms/_ciphertext.py``: ``b"KL"``, version 1, key ID length, ASCII key ID, 32-byte backing key ID,
12-byte nonce, ciphertext and tag). This module knows that layout by its shape only and imports nothing from
the KMS package. AWS KMS's own blob format is not documented ("an unencrypted header ... and an encrypted
portion", AWS KMS cryptographic details, *Customer data operations*), so it is not guessed at here.
"""

from __future__ import annotations

import binascii
import re

#: leading bytes enough to recognise a blob, raw (4 + 36-character key ID + 32) or as base64 text (4/3 of that)
SNIFF_LEN = 120
_MAGIC = b"KL\x01"
_KEY_ID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}")
_HINT = "this is a KMS ciphertext blob{form} (from KMS Encrypt, key {key_id}), not an envelope message: {how}"
_HOW_RAW = "decrypt it with aws kms decrypt --ciphertext-blob fileb://FILE"
_HOW_B64 = "base64 --decode it into a file, then aws kms decrypt --ciphertext-blob fileb://FILE"


def kms_blob_key_id(data: bytes) -> str | None:
    """Return the key ID a local KMS ciphertext blob names, or None when ``data`` does not start like one.

    Args:
        data: the first bytes of the input (at least 40 for a 36-character key ID).

    Returns:
        The key ID (a UUID or ``mrk-`` ID), or None.
    """
    if len(data) < 4 or data[:3] != _MAGIC:
        return None
    end = 4 + data[3]
    match = _KEY_ID.fullmatch(data[4:end])
    return match.group().decode("ascii") if match is not None else None


def foreign_format(head: bytes) -> str | None:
    """Return a one-line hint when the input looks like a KMS ciphertext blob, raw or base64; else None.

    Args:
        head: the input's first bytes (up to :data:`SNIFF_LEN`).

    Returns:
        The hint, or None.
    """
    key_id = kms_blob_key_id(head)
    if key_id is not None:
        return _HINT.format(form="", key_id=key_id, how=_HOW_RAW)
    text = head.lstrip()
    usable = len(text) - len(text) % 4
    try:
        decoded = binascii.a2b_base64(text[:usable], strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    key_id = kms_blob_key_id(decoded)
    if key_id is None:
        return None
    return _HINT.format(form=" in base64 text", key_id=key_id, how=_HOW_B64)
