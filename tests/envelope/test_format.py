"""Wire-format pieces checked against independent implementations (cryptography's HKDF, the ESDK's serializer)."""

from __future__ import annotations

import os
import struct

import pytest
from aws_encryption_sdk.internal.formatting.encryption_context import serialize_encryption_context
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kmslab.envelope import COMMIT_KEY, COMMIT_KEY_ECDSA_P384, MessageFormatError
from kmslab.envelope._context import parse_context, serialize_context
from kmslab.envelope._keys import derive_keys


@pytest.mark.parametrize("suite", [COMMIT_KEY, COMMIT_KEY_ECDSA_P384])
def test_key_derivation_matches_hkdf_sha512(suite: object) -> None:
    data_key, message_id = os.urandom(32), os.urandom(32)
    key, commitment = derive_keys(data_key, message_id, suite)  # type: ignore[arg-type]
    info = struct.pack(">H", suite.suite_id) + b"DERIVEKEY"  # type: ignore[attr-defined]
    want_key = HKDF(hashes.SHA512(), 32, salt=message_id, info=info).derive(data_key)
    want_commit = HKDF(hashes.SHA512(), 32, salt=message_id, info=b"COMMITKEY").derive(data_key)
    assert (key, commitment) == (want_key, want_commit)


def test_context_serialization_matches_the_esdk() -> None:
    context = {"b": "2", "a": "1", "ä": "x", "Z": "", "aa": "long value " * 10}
    ours = serialize_context(context)
    assert ours == serialize_encryption_context(context)
    assert parse_context(ours) == context
    assert serialize_context({}) == b""
    assert parse_context(b"") == {}


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01\x00\x01a",  # value length missing
        b"\x00\x02\x00\x01a\x00\x01b\x00\x01a\x00\x01c",  # duplicate key
        b"\x00\x01\x00\x01a\x00\x01bX",  # trailing byte
        b"\x00\x00",  # empty but non-empty encoding
        b"\x00\x01\x00\x01\xff\x00\x01b",  # not UTF-8
    ],
)
def test_malformed_context_is_refused(data: bytes) -> None:
    with pytest.raises(MessageFormatError):
        parse_context(data)
