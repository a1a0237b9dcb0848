"""The one-pass paths for small raw-key messages agree with the general paths, byte for byte and error for error.

``encrypt`` without a cache and ``decrypt`` of ``bytes`` without a cache take a lean path for a raw AES key;
a ``bytearray`` input (or a cache) takes the general one. Every check here compares the two, or compares the
lean pieces with independent implementations (cryptography's HKDF, the generic EDK serializer, the ESDK).
"""

from __future__ import annotations

import os
import struct

import aws_encryption_sdk
import pytest
from aws_encryption_sdk.key_providers.raw import RawMasterKey
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kmslab.envelope import (
    COMMIT_KEY,
    COMMIT_KEY_ECDSA_P384,
    ContextMismatchError,
    DataKeyCache,
    EnvelopeError,
    MessageFormatError,
    RawAesKeyProvider,
    decrypt,
    encrypt,
    inspect_header,
)
from kmslab.envelope._context import serialize_context
from kmslab.envelope._keys import derive_keys

CONTEXT = {"tenant": "acme", "purpose": "fast-path"}


@pytest.fixture
def message(raw_provider: RawAesKeyProvider) -> bytes:
    return encrypt(os.urandom(1024), provider=raw_provider, encryption_context=CONTEXT)


def _outcome(message: bytes | bytearray, provider: RawAesKeyProvider, **kwargs: object) -> tuple[str, str]:
    try:
        result = decrypt(message, provider=provider, **kwargs)  # type: ignore[arg-type]
    except EnvelopeError as exc:
        return type(exc).__name__, str(exc)
    return "ok", result.plaintext.hex()


@pytest.mark.parametrize("suite", [COMMIT_KEY, COMMIT_KEY_ECDSA_P384])
def test_key_derivation_matches_hkdf_on_random_vectors(suite: object) -> None:
    info = struct.pack(">H", suite.suite_id) + b"DERIVEKEY"  # type: ignore[attr-defined]
    for _ in range(64):
        data_key, message_id = os.urandom(32), os.urandom(32)
        key, commitment = derive_keys(data_key, message_id, suite)  # type: ignore[arg-type]
        assert key == HKDF(hashes.SHA512(), 32, salt=message_id, info=info).derive(data_key)
        assert commitment == HKDF(hashes.SHA512(), 32, salt=message_id, info=b"COMMITKEY").derive(data_key)


def test_every_single_byte_flip_fails_the_same_way_on_both_paths(
    message: bytes, raw_provider: RawAesKeyProvider
) -> None:
    for index in range(len(message)):
        altered = bytearray(message)
        altered[index] ^= 0x01
        lean = _outcome(bytes(altered), raw_provider)
        assert lean[0] != "ok", f"a flip at byte {index} was accepted"
        assert lean == _outcome(altered, raw_provider), f"the paths disagree on a flip at byte {index}"


def test_every_truncation_and_trailing_bytes_fail_the_same_way(message: bytes, raw_provider: RawAesKeyProvider) -> None:
    for cut in range(len(message)):
        lean = _outcome(message[:cut], raw_provider)
        assert lean[0] != "ok"
        assert lean == _outcome(bytearray(message[:cut]), raw_provider)
    lean = _outcome(message + b"\x00", raw_provider)
    assert lean[0] == "MessageFormatError"
    assert lean == _outcome(bytearray(message + b"\x00"), raw_provider)


def test_lean_decrypt_returns_what_the_general_path_returns(message: bytes, raw_provider: RawAesKeyProvider) -> None:
    lean = decrypt(message, provider=raw_provider)
    general = decrypt(bytearray(message), provider=raw_provider)
    assert lean.plaintext == general.plaintext
    assert lean.header == general.header == inspect_header(message)
    assert dict(lean.encryption_context) == CONTEXT
    edks = lean.header.encrypted_data_keys
    assert [(e.provider_id, e.key_info[: len(raw_provider.name)]) for e in edks] == [
        (raw_provider.namespace, raw_provider.name.encode())
    ]


def test_required_context_and_frame_limit_on_the_lean_path(message: bytes, raw_provider: RawAesKeyProvider) -> None:
    assert decrypt(message, provider=raw_provider, required_context={"tenant": "acme"}).plaintext
    for required in ({"tenant": "other"}, {"missing": "x"}):
        with pytest.raises(ContextMismatchError):
            decrypt(message, provider=raw_provider, required_context=required)
    with pytest.raises(MessageFormatError, match="exceeds the limit"):
        decrypt(message, provider=raw_provider, max_frame_length=1024)


@pytest.mark.parametrize("size", [0, 1, 1023, 1024, 1025, 4096])
def test_sizes_around_the_frame_length_round_trip(raw_provider: RawAesKeyProvider, size: int) -> None:
    plaintext = os.urandom(size)
    message = encrypt(plaintext, provider=raw_provider, encryption_context=CONTEXT, frame_length=1024)
    assert decrypt(message, provider=raw_provider).plaintext == plaintext
    assert decrypt(bytearray(message), provider=raw_provider).plaintext == plaintext


def test_another_raw_key_is_refused_with_the_general_error(message: bytes) -> None:
    other = RawAesKeyProvider("kmslab-tests", "wrapping-key-1", os.urandom(32))
    lean = _outcome(message, other)
    assert lean[0] == "KeyProviderError"
    assert lean == _outcome(bytearray(message), other)


def test_lean_encrypt_header_matches_the_generic_edk_serialization(raw_provider: RawAesKeyProvider) -> None:
    lean = inspect_header(encrypt(b"x", provider=raw_provider, encryption_context=CONTEXT))
    (edk,) = lean.encrypted_data_keys
    assert lean.raw_edks == b"\x00\x01" + edk.serialize()
    assert lean.raw_context == serialize_context(CONTEXT)
    found = raw_provider.unwrap_section(lean.raw_edks, 0, lean.raw_context)
    assert found is not None
    assert found == (raw_provider.decrypt_data_key([edk], CONTEXT), len(lean.raw_edks))
    assert raw_provider.unwrap_section(b"xyz" + lean.raw_edks + b"tail", 3, lean.raw_context) == found[:1] + (
        3 + len(lean.raw_edks),
    )
    assert raw_provider.unwrap_section(lean.raw_edks[:-1], 0, lean.raw_context) is None
    assert raw_provider.unwrap_section(lean.raw_edks, 0, serialize_context({"tenant": "other"})) is None
    assert raw_provider.unwrap_section(b"\x00\x02" + lean.raw_edks[2:] + edk.serialize(), 0, lean.raw_context) is None


def test_context_memo_follows_the_callers_current_pairs(raw_provider: RawAesKeyProvider) -> None:
    context = {"tenant": "a"}
    first = encrypt(b"1", provider=raw_provider, encryption_context=context)
    context["tenant"] = "b"
    second = encrypt(b"2", provider=raw_provider, encryption_context=context)
    assert dict(inspect_header(first).encryption_context) == {"tenant": "a"}
    assert dict(inspect_header(second).encryption_context) == {"tenant": "b"}
    for bad in ({"aws-crypto-x": "y"}, {"k": ["not", "a", "string"]}, {"k": 1}):
        with pytest.raises(ContextMismatchError):
            encrypt(b"x", provider=raw_provider, encryption_context=bad)  # type: ignore[arg-type]
        with pytest.raises(ContextMismatchError):
            encrypt(b"x", provider=raw_provider, encryption_context=bad, cache=DataKeyCache())  # type: ignore[arg-type]


def test_esdk_reads_lean_messages_and_lean_path_reads_the_esdks(
    raw_provider: RawAesKeyProvider, esdk_raw_key: RawMasterKey, esdk: aws_encryption_sdk.EncryptionSDKClient
) -> None:
    plaintext = os.urandom(1024)
    ours = encrypt(plaintext, provider=raw_provider, encryption_context=CONTEXT)
    got, esdk_header = esdk.decrypt(source=ours, key_provider=esdk_raw_key)
    assert got == plaintext
    assert {k: v for k, v in esdk_header.encryption_context.items() if k in CONTEXT} == CONTEXT
    theirs, _ = esdk.encrypt(
        source=plaintext,
        key_provider=esdk_raw_key,
        encryption_context=CONTEXT,
        algorithm=aws_encryption_sdk.identifiers.Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
    )
    assert decrypt(theirs, provider=raw_provider).plaintext == plaintext
    assert decrypt(bytearray(theirs), provider=raw_provider).plaintext == plaintext


def test_bytes_take_the_lean_path_and_altered_messages_leave_it(
    message: bytes, raw_provider: RawAesKeyProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kmslab.envelope import _oneshot

    real = _oneshot._decrypt_small
    taken: list[bool] = []

    def spy(*args: object) -> object:
        result = real(*args)  # type: ignore[arg-type]
        taken.append(result is not None)
        return result

    monkeypatch.setattr(_oneshot, "_decrypt_small", spy)
    decrypt(message, provider=raw_provider)
    decrypt(bytearray(message), provider=raw_provider)
    assert taken == [True]
    with pytest.raises(EnvelopeError):
        decrypt(message[:-1] + bytes([message[-1] ^ 1]), provider=raw_provider)
    assert taken == [True, False]
