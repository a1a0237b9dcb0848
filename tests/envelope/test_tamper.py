"""Every class of altered, truncated or mismatched message is refused, and streams release no unverified bytes."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence

import pytest

from kmslab.envelope import (
    AuthenticationError,
    DataKeyCache,
    EncryptedDataKey,
    EnvelopeError,
    KeyProviderError,
    MessageFormatError,
    RawAesKeyProvider,
    TruncatedMessageError,
    decrypt,
    decrypt_stream,
    encrypt,
    inspect_header,
)

FRAME = 64
FRAME_SIZE = 4 + 12 + FRAME + 16  # seq, IV, content, tag
PLAINTEXT = bytes(range(256)) * 1 + b"tail!"  # 261 bytes: 4 regular frames + a 5-byte final frame


class FixedKeyProvider:
    """A test double that ignores the context when unwrapping, so only the header tag can catch context edits."""

    cache_id = "fixed"

    def __init__(self) -> None:
        self.data_key = os.urandom(32)

    def generate_data_key(self, encryption_context: Mapping[str, str]) -> tuple[bytes, tuple[EncryptedDataKey, ...]]:
        return self.data_key, (EncryptedDataKey("fixed", b"k", b"wrapped"),)

    def decrypt_data_key(self, edks: Sequence[EncryptedDataKey], encryption_context: Mapping[str, str]) -> bytes:
        return self.data_key


def _both(message: bytes, provider: object, exc: type[Exception], match: str | None = None) -> bytes:
    """Assert both decrypt paths refuse ``message``; return what the stream released."""
    with pytest.raises(exc, match=match):
        decrypt(message, provider=provider)  # type: ignore[arg-type]
    out = io.BytesIO()
    with pytest.raises(exc, match=match):
        decrypt_stream(io.BytesIO(message), out, provider=provider)  # type: ignore[arg-type]
    return out.getvalue()


def _flip(message: bytes, index: int) -> bytes:
    data = bytearray(message)
    data[index] ^= 0x01
    return bytes(data)


@pytest.fixture
def fixed() -> FixedKeyProvider:
    return FixedKeyProvider()


@pytest.fixture
def message(fixed: FixedKeyProvider) -> bytes:
    return encrypt(PLAINTEXT, provider=fixed, encryption_context={"tenant": "acme"}, frame_length=FRAME)


def _body_start(message: bytes) -> int:
    return len(inspect_header(message).raw) + 16


def test_every_header_and_header_tag_byte_is_protected(message: bytes, fixed: FixedKeyProvider) -> None:
    for index in range(_body_start(message)):
        released = _both(_flip(message, index), fixed, EnvelopeError)
        assert released == b"", index


def test_context_edit_fails_the_header_tag(message: bytes, fixed: FixedKeyProvider) -> None:
    tampered = message.replace(b"acme", b"acmf", 1)
    assert tampered != message
    _both(tampered, fixed, AuthenticationError, "header authentication tag")


def test_commitment_mismatch(message: bytes, fixed: FixedKeyProvider) -> None:
    header_len = len(inspect_header(message).raw)
    _both(_flip(message, header_len - 1), fixed, AuthenticationError, "key commitment")


def test_wrong_data_key_fails_commitment(message: bytes, fixed: FixedKeyProvider) -> None:
    fixed.data_key = os.urandom(32)
    _both(message, fixed, AuthenticationError, "key commitment")


def test_edk_edit_is_refused_by_the_wrapping_key(raw_provider: RawAesKeyProvider) -> None:
    message = encrypt(PLAINTEXT, provider=raw_provider, encryption_context={"tenant": "acme"}, frame_length=FRAME)
    header = inspect_header(message)
    edk = header.encrypted_data_keys[0]
    at = message.index(edk.ciphertext) + 3
    _both(_flip(message, at), raw_provider, KeyProviderError)
    # the raw keyring binds the context too
    _both(message.replace(b"acme", b"acmf", 1), raw_provider, KeyProviderError)


def test_frame_iv_seq_body_and_tag_edits(message: bytes, fixed: FixedKeyProvider) -> None:
    start = _body_start(message)
    second = start + FRAME_SIZE
    # sequence number, IV, content, tag of frame 2: frame 1 is released, nothing of frame 2
    for offset, exc in [
        (3, MessageFormatError),
        (10, MessageFormatError),
        (40, AuthenticationError),
        (90, AuthenticationError),
    ]:
        released = _both(_flip(message, second + offset), fixed, exc)
        assert released == PLAINTEXT[:FRAME], offset


def test_every_body_byte_is_protected(message: bytes, fixed: FixedKeyProvider) -> None:
    for index in range(_body_start(message), len(message)):
        released = _both(_flip(message, index), fixed, EnvelopeError)
        assert PLAINTEXT.startswith(released)
        assert len(released) % FRAME == 0 and len(released) < len(PLAINTEXT), index


def test_frame_reorder(message: bytes, fixed: FixedKeyProvider) -> None:
    start = _body_start(message)
    f1 = message[start : start + FRAME_SIZE]
    f2 = message[start + FRAME_SIZE : start + 2 * FRAME_SIZE]
    swapped = message[:start] + f2 + f1 + message[start + 2 * FRAME_SIZE :]
    assert _both(swapped, fixed, MessageFormatError, "reordered") == b""
    # swap only the encrypted content and tags, keeping sequence numbers and IVs in place
    swapped_bodies = message[:start] + f1[:16] + f2[16:] + f2[:16] + f1[16:] + message[start + 2 * FRAME_SIZE :]
    assert _both(swapped_bodies, fixed, AuthenticationError) == b""


def test_truncation_at_every_length(message: bytes, fixed: FixedKeyProvider) -> None:
    for cut in range(len(message)):
        released = _both(message[:cut], fixed, EnvelopeError)
        assert len(released) < len(PLAINTEXT)
    # cut exactly at a frame boundary: clearly reported as truncation
    boundary = _body_start(message) + 2 * FRAME_SIZE
    released = _both(message[:boundary], fixed, TruncatedMessageError)
    assert released == PLAINTEXT[: 2 * FRAME]


def test_final_frame_swap_from_another_message(fixed: FixedKeyProvider) -> None:
    cache = DataKeyCache()
    one = encrypt(PLAINTEXT, provider=fixed, frame_length=FRAME, cache=cache)
    two = encrypt(PLAINTEXT, provider=fixed, frame_length=FRAME, cache=cache)
    final_start = _body_start(one) + 4 * FRAME_SIZE
    mixed = one[:final_start] + two[final_start:]
    released = _both(mixed, fixed, AuthenticationError)
    assert released == PLAINTEXT[: 4 * FRAME]


def test_regular_frame_relabelled_as_final_is_refused(message: bytes, fixed: FixedKeyProvider) -> None:
    # Turn frame 2 into a "final frame" to truncate the message undetected: its AAD says Frame, not Final Frame.
    start = _body_start(message) + FRAME_SIZE
    frame = message[start : start + FRAME_SIZE]
    seq, iv, rest = frame[:4], frame[4:16], frame[16:]
    fake_final = b"\xff\xff\xff\xff" + seq + iv + FRAME.to_bytes(4, "big") + rest
    released = _both(message[:start] + fake_final, fixed, AuthenticationError)
    assert released == PLAINTEXT[:FRAME]


def test_trailing_bytes_are_refused_before_the_final_frame_is_released(message: bytes, fixed: FixedKeyProvider) -> None:
    released = _both(message + b"\x00", fixed, MessageFormatError, "after the end")
    assert released == PLAINTEXT[: 4 * FRAME]
    _both(message + message, fixed, MessageFormatError)


def test_signed_message_signature_and_footer(raw_provider: RawAesKeyProvider) -> None:
    message = encrypt(PLAINTEXT, provider=raw_provider, frame_length=FRAME, algorithm=0x0578)
    released = _both(_flip(message, len(message) - 5), raw_provider, AuthenticationError, "signature")
    assert released == PLAINTEXT[: 4 * FRAME]
    _both(message[:-105], raw_provider, TruncatedMessageError)
    _both(message + b"x", raw_provider, MessageFormatError)


def test_unsupported_version_and_suite(message: bytes, fixed: FixedKeyProvider) -> None:
    _both(b"\x01" + message[1:], fixed, MessageFormatError, "version")
    _both(message[:1] + b"\x01\x78" + message[3:], fixed, MessageFormatError, "suite 0x0178")
    _both(b"", fixed, TruncatedMessageError)
    _both(b"not a message at all", fixed, MessageFormatError)
