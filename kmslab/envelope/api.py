"""The public functions: encrypt and decrypt whole messages or streams."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from kmslab.envelope import _oneshot, _stream
from kmslab.envelope._format import DEFAULT_FRAME_LENGTH, DEFAULT_MAX_FRAME_LENGTH, Header
from kmslab.envelope._suites import COMMIT_KEY, Suite, suite_by_name
from kmslab.envelope.cache import DataKeyCache
from kmslab.envelope.providers import KeyProvider


@dataclass(frozen=True)
class DecryptResult:
    """What :func:`decrypt` returns.

    Unpacks as ``plaintext, header = decrypt(...)`` (the header has ``.encryption_context`` too).

    Attributes:
        plaintext: the decrypted bytes (never shown in a repr).
        encryption_context: the message's authenticated encryption context.
        header: the verified header (suite, message ID, encrypted data keys, frame length).
    """

    plaintext: bytes = field(repr=False)
    encryption_context: Mapping[str, str]
    header: Header

    def __iter__(self) -> Iterator[object]:
        return iter((self.plaintext, self.header))


def encrypt(
    plaintext: bytes | bytearray | memoryview,
    *,
    provider: KeyProvider,
    encryption_context: Mapping[str, str] | None = None,
    frame_length: int = DEFAULT_FRAME_LENGTH,
    cache: DataKeyCache | None = None,
    algorithm: Suite | str | int = COMMIT_KEY,
) -> bytes:
    """Encrypt bytes into an AWS Encryption SDK message (format version 2, committing suite, framed).

    Args:
        plaintext: the data.
        provider: the key provider that wraps the data key.
        encryption_context: string pairs bound to the message (keys starting ``aws-crypto-`` are reserved).
        frame_length: plaintext bytes per frame.
        cache: an optional :class:`DataKeyCache` to reuse data keys across messages.
        algorithm: ``0x0478`` (default) or ``0x0578`` (adds an ECDSA P-384 signature).

    Returns:
        The message bytes.

    Raises:
        ContextMismatchError: invalid encryption context.
        KeyProviderError: the provider could not produce a data key.
        EnvelopeError: invalid frame length.
    """
    suite = algorithm if algorithm is COMMIT_KEY else suite_by_name(algorithm)
    return _oneshot.encrypt_bytes(plaintext, provider, encryption_context, frame_length, cache, suite)


def decrypt(
    message: bytes | bytearray | memoryview,
    *,
    provider: KeyProvider,
    required_context: Mapping[str, str] | None = None,
    cache: DataKeyCache | None = None,
    max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH,
) -> DecryptResult:
    """Decrypt and verify a whole message.

    Args:
        message: the message bytes (ours or the AWS Encryption SDK's, suites 0x0478/0x0578).
        provider: a key provider able to decrypt one of the message's data keys.
        required_context: pairs the message's encryption context must contain.
        cache: an optional :class:`DataKeyCache` (skips the provider for data keys seen before).
        max_frame_length: refuse messages whose frames are larger than this.

    Returns:
        A :class:`DecryptResult`.

    Raises:
        MessageFormatError: malformed, truncated, unsupported or trailing bytes.
        AuthenticationError: altered header or body, commitment or signature mismatch.
        ContextMismatchError: a required pair is missing or different.
        KeyProviderError: no data key could be decrypted.
    """
    plaintext, header = _oneshot.decrypt_bytes(message, provider, required_context, cache, max_frame_length)
    # the frozen dataclass's __init__ sets each field through object.__setattr__; fill them at once instead
    result = object.__new__(DecryptResult)
    result.__dict__.update(plaintext=plaintext, encryption_context=header.encryption_context, header=header)
    return result


def encrypt_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    provider: KeyProvider,
    encryption_context: Mapping[str, str] | None = None,
    frame_length: int = DEFAULT_FRAME_LENGTH,
    progress: _stream.Progress = None,
    algorithm: Suite | str | int = COMMIT_KEY,
) -> Header:
    """Encrypt a stream into a message with constant memory (about two frames).

    Args:
        src: readable binary stream (read to its end).
        dst: writable binary stream.
        provider: the key provider.
        encryption_context: string pairs bound to the message.
        frame_length: plaintext bytes per frame.
        progress: called with the number of plaintext bytes after each frame.
        algorithm: ``0x0478`` (default) or ``0x0578``.

    Returns:
        The header written.

    Raises:
        ContextMismatchError: invalid encryption context.
        KeyProviderError: the provider could not produce a data key.
        EnvelopeError: invalid frame length.
    """
    suite = suite_by_name(algorithm)
    return _stream.encrypt_stream(src, dst, provider, encryption_context, frame_length, progress, suite)


def decrypt_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    provider: KeyProvider,
    required_context: Mapping[str, str] | None = None,
    progress: _stream.Progress = None,
    max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH,
) -> Header:
    """Decrypt a stream, writing each frame only after its tag verifies.

    The final frame is written only after the signature (signed suite) and the end of input are checked.
    On an exception, ``dst`` may hold the verified frames before the failure: callers writing a file should
    discard it (the CLI does).

    Args:
        src: readable binary stream holding exactly one message.
        dst: writable binary stream.
        provider: the key provider.
        required_context: pairs the message's encryption context must contain.
        progress: called with the number of plaintext bytes after each frame.
        max_frame_length: refuse messages whose frames are larger than this.

    Returns:
        The verified header (``.encryption_context`` is authenticated).

    Raises:
        MessageFormatError: malformed, truncated, unsupported or trailing bytes.
        AuthenticationError: altered header or body, commitment or signature mismatch.
        ContextMismatchError: a required pair is missing or different.
        KeyProviderError: no data key could be decrypted.
    """
    return _stream.decrypt_stream(src, dst, provider, required_context, progress, max_frame_length)


def inspect_header(src: BinaryIO | bytes) -> Header:
    """Parse a message's header without any key (nothing is verified).

    Args:
        src: the message bytes or a stream positioned at its start.

    Returns:
        The parsed header.

    Raises:
        MessageFormatError: not a supported message.
    """
    from kmslab.envelope._format import need_in, parse_header

    if isinstance(src, bytes | bytearray | memoryview):
        return parse_header(src, need_in(src))[0]
    return _stream.read_stream_header(src)
