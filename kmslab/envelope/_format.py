"""Wire format of message format version 2: encryption context, encrypted data keys and the header.

Private: the public view of a parsed header is :class:`kmslab.envelope.Header`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kmslab.envelope._suites import COMMITMENT_LEN, TAG_LEN, Suite, suite_by_id
from kmslab.envelope.errors import ContextMismatchError, EnvelopeError, MessageFormatError, TruncatedMessageError

VERSION_2 = 0x02
CONTENT_NON_FRAMED = 0x01
CONTENT_FRAMED = 0x02
FINAL_FRAME_MARKER = 0xFFFFFFFF
MAX_FRAME_LENGTH = 2**31 - 1
MAX_FRAMES = 2**32 - 1
#: Default frame length: 1 MiB. The ESDK's 4 KiB default makes per-frame Python overhead dominate
#: (hundreds of thousands of frames per GiB); 1 MiB frames run at AES-GCM speed while a streaming
#: decryptor still buffers only ~2 MiB (a frame is held until its tag verifies). Small messages are one
#: final frame whatever the frame length, so the choice costs them nothing.
DEFAULT_FRAME_LENGTH = 1024 * 1024

#: Largest frame (or single-block body) a decryptor buffers unless told otherwise: 64 MiB.
DEFAULT_MAX_FRAME_LENGTH = 64 * 1024 * 1024
FRAME_AAD = b"AWSKMSEncryptionClient Frame"
FINAL_FRAME_AAD = b"AWSKMSEncryptionClient Final Frame"
SINGLE_BLOCK_AAD = b"AWSKMSEncryptionClient Single Block"
_U16_MAX = 0xFFFF


def check_frame_length(frame_length: int) -> None:
    """Check a frame length for a new message.

    Args:
        frame_length: plaintext bytes per frame.

    Raises:
        EnvelopeError: not an int between 1 and 2**31 - 1.
    """
    if not isinstance(frame_length, int) or not 0 < frame_length <= 2**31 - 1:
        raise EnvelopeError(f"frame length must be between 1 and 2**31 - 1 bytes, got {frame_length!r}")


@dataclass(frozen=True)
class EncryptedDataKey:
    """One encrypted copy of the message's data key, as stored in the header.

    Attributes:
        provider_id: who wrapped it: ``"aws-kms"`` or a raw key's namespace.
        key_info: the wrapping key's identity (a KMS key ARN, or a raw key's name plus IV details).
        ciphertext: the wrapped data key (ciphertext only: never the plaintext key).
    """

    provider_id: str
    key_info: bytes
    ciphertext: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key_info) > _U16_MAX or len(self.ciphertext) > _U16_MAX or len(self.provider_id) > _U16_MAX // 4:
            if len(self.provider_id.encode()) > _U16_MAX or len(self.key_info) > _U16_MAX:
                raise MessageFormatError("an encrypted data key's provider ID or key info is longer than 65535 bytes")
            if len(self.ciphertext) > _U16_MAX:
                raise MessageFormatError("an encrypted data key is longer than 65535 bytes")

    def serialize(self) -> bytes:
        """Return the header encoding: three length-prefixed fields."""
        pid = self.provider_id.encode()
        return b"".join(
            (
                len(pid).to_bytes(2, "big"),
                pid,
                len(self.key_info).to_bytes(2, "big"),
                self.key_info,
                len(self.ciphertext).to_bytes(2, "big"),
                self.ciphertext,
            )
        )


class FrozenContext(Mapping[str, str]):
    """A read-only encryption context that remembers its serialized form (so it is never re-serialized).

    Args:
        pairs: the context.
        serialized: its serialization, when already known.
    """

    __slots__ = ("_pairs", "serialized")

    def __init__(self, pairs: Mapping[str, str], serialized: bytes | None = None) -> None:
        self._pairs = dict(pairs)
        self.serialized = serialize_context(self._pairs) if serialized is None else serialized

    def __getitem__(self, key: str) -> str:
        return self._pairs[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __contains__(self, key: object) -> bool:
        return key in self._pairs

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value for ``key``, or ``default``."""
        return self._pairs.get(key, default)

    def __repr__(self) -> str:
        return repr(self._pairs)


def validate_context(context: Mapping[str, str] | None) -> dict[str, str]:
    """Return a plain copy of an encryption context after checking its types.

    Args:
        context: the mapping of strings to strings, or None for an empty context.

    Returns:
        A new dict.

    Raises:
        ContextMismatchError: a key or value is not a string.
    """
    if not context:
        return {}
    out: dict[str, str] = {}
    for key, value in context.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ContextMismatchError("encryption context keys and values must be strings")
        out[key] = value
    return out


def serialize_context(context: Mapping[str, str]) -> bytes:
    """Serialize an encryption context: count, then pairs sorted by key bytes; empty context -> no bytes.

    Args:
        context: the encryption context.

    Returns:
        The serialized bytes (the header's AAD field, without its length).

    Raises:
        ContextMismatchError: a key or value cannot be encoded, or the result is too large.
    """
    if type(context) is FrozenContext:
        return context.serialized
    if not context:
        return b""
    try:
        pairs = sorted((k.encode("utf-8"), v.encode("utf-8")) for k, v in context.items())
    except (UnicodeEncodeError, AttributeError):
        raise ContextMismatchError("encryption context keys and values must be valid UTF-8 strings") from None
    parts = [len(pairs).to_bytes(2, "big")]
    for key, value in pairs:
        if len(key) > _U16_MAX or len(value) > _U16_MAX:
            raise ContextMismatchError("an encryption context key or value is longer than 65535 bytes")
        parts += (len(key).to_bytes(2, "big"), key, len(value).to_bytes(2, "big"), value)
    out = b"".join(parts)
    if len(out) > _U16_MAX:
        raise ContextMismatchError("the serialized encryption context is longer than 65535 bytes")
    return out


def parse_context(data: bytes) -> dict[str, str]:
    """Parse a serialized encryption context (the inverse of :func:`serialize_context`).

    Args:
        data: the header's AAD field.

    Returns:
        The encryption context.

    Raises:
        MessageFormatError: malformed, duplicate keys, or not UTF-8.
    """
    if not data:
        return {}
    view = memoryview(data)
    try:
        (count,) = struct.unpack_from(">H", view, 0)
        pos = 2
        out: dict[str, str] = {}
        for _ in range(count):
            (klen,) = struct.unpack_from(">H", view, pos)
            key = bytes(view[pos + 2 : pos + 2 + klen])
            pos += 2 + klen
            (vlen,) = struct.unpack_from(">H", view, pos)
            value = bytes(view[pos + 2 : pos + 2 + vlen])
            pos += 2 + vlen
            if len(key) != klen or len(value) != vlen:
                raise MessageFormatError("malformed encryption context")
            skey = key.decode("utf-8")
            if skey in out:
                raise MessageFormatError(f"duplicate encryption context key {skey!r}")
            out[skey] = value.decode("utf-8")
    except struct.error:
        raise MessageFormatError("malformed encryption context") from None
    except UnicodeDecodeError:
        raise MessageFormatError("encryption context is not valid UTF-8") from None
    if count == 0 or pos != len(data):
        raise MessageFormatError("malformed encryption context")
    return out


@dataclass(frozen=True)
class Header:
    """A verified (or, from :func:`kmslab.envelope.inspect_header`, merely parsed) message header.

    Attributes:
        suite: the algorithm suite.
        message_id: the 32-byte random message ID.
        encryption_context: the context bound to the message (read-only mapping).
        encrypted_data_keys: the wrapped copies of the data key.
        framed: True for framed content (what we write), False for a single block.
        frame_length: bytes of plaintext per frame (0 for single-block content).
        commitment: the 32-byte key commitment (public; derived, not key material).
        raw: the header bytes exactly as on the wire (the header authentication tag's AAD).
    """

    suite: Suite
    message_id: bytes
    encryption_context: Mapping[str, str]
    encrypted_data_keys: tuple[EncryptedDataKey, ...]
    framed: bool
    frame_length: int
    commitment: bytes = field(repr=False)
    raw: bytes = field(repr=False, compare=False)
    raw_context: bytes = field(repr=False, compare=False, default=b"")
    raw_edks: bytes = field(repr=False, compare=False, default=b"")

    @property
    def algorithm(self) -> str:
        """The suite's specification name."""
        return self.suite.name


class _LazyEdks:
    """Header.encrypted_data_keys for a parsed header: built from ``raw_edks`` on first use, then kept.

    A non-data descriptor (like ``functools.cached_property``): a value in the instance's ``__dict__`` (set by
    ``__init__``, or by the first use) wins, so normal attribute access stays fast. The one-shot decrypt of a
    raw-key message never needs the objects.
    """

    def __get__(self, header: Header | None, owner: type | None = None) -> Any:
        if header is None:
            return self
        edks = parse_edks(header.raw_edks)
        header.__dict__["encrypted_data_keys"] = edks
        return edks


setattr(Header, "encrypted_data_keys", _LazyEdks())  # noqa: B010 - after @dataclass, so not read as a default


def header_prefix_after_id(context_bytes: bytes, edk_bytes: bytes, edk_count: int, frame_length: int) -> bytes:
    """Return the header bytes between the message ID and the commitment (constant per data key and frame size).

    Args:
        context_bytes: the serialized encryption context.
        edk_bytes: the concatenated serialized encrypted data keys.
        edk_count: how many keys ``edk_bytes`` holds.
        frame_length: the frame length.

    Returns:
        AAD length, AAD, EDK count, EDKs, content type and frame length, encoded.
    """
    return b"".join(
        (
            len(context_bytes).to_bytes(2, "big"),
            context_bytes,
            edk_count.to_bytes(2, "big"),
            edk_bytes,
            bytes((CONTENT_FRAMED,)),
            frame_length.to_bytes(4, "big"),
        )
    )


Need = Callable[[int], None]
#: serialized context -> parsed read-only mapping; many messages share a context, parsing it once is enough
_CONTEXTS: dict[bytes, Mapping[str, str]] = {}
_EDK_LEN = struct.Struct(">H")


_MEMO_SIZE = 64


def parse_header(buf: bytes | bytearray | memoryview, need: Need | None) -> tuple[Header, int]:
    """Parse a version 2 header at the start of ``buf``, without verifying anything cryptographic.

    Args:
        buf: the message bytes (a bytearray a stream reader grows on demand).
        need: called with a total length before it is read; makes ``buf`` at least that long or raises
            :class:`TruncatedMessageError`. None when ``buf`` holds the whole message.

    Returns:
        ``(header, header_length)``; the 16-byte authentication tag that follows is not read.

    Raises:
        MessageFormatError: unsupported version or suite, or a malformed field.
    """
    if need is None:
        if len(buf) < 37:
            raise TruncatedMessageError("the message is truncated inside the header")
    else:
        need(37)
    if buf[0] != VERSION_2:
        raise MessageFormatError(
            f"unsupported message format version {buf[0]} (only version 2 with key commitment is accepted)"
        )
    suite = suite_by_id(int.from_bytes(buf[1:3], "big"))
    # Walk the length fields (the stream reader fetches bytes as they are needed); the EDK objects are built
    # lazily from the raw EDK bytes (see Header.__getattr__).
    context_end = 37 + int.from_bytes(buf[35:37], "big")
    edk_count, pos = _walk_edks(buf, context_end, need)
    if edk_count == 0:
        raise MessageFormatError("the message has no encrypted data keys")
    end = pos + 5 + COMMITMENT_LEN
    raw = bytes(buf[:end])
    raw_context = raw[37:context_end]
    context = _CONTEXTS.get(raw_context) or context_for(raw_context)
    content_type = raw[pos]
    frame_length = int.from_bytes(raw[pos + 1 : pos + 5], "big")
    _check_content(content_type, frame_length)
    raw_edks = raw[context_end:pos]
    if edk_count > 1 or not raw_edks[4 : 4 + int.from_bytes(raw_edks[2:4], "big")].isascii():
        parse_edks(raw_edks)  # anything but one ASCII provider ID: check the UTF-8 now, as before
    header = new_header(suite, raw, context, content_type == CONTENT_FRAMED, frame_length, raw_context, raw_edks)
    return header, end


def new_header(
    suite: Suite,
    raw: bytes,
    context: Mapping[str, str],
    framed: bool,
    frame_length: int,
    raw_context: bytes,
    raw_edks: bytes,
) -> Header:
    """Build a parsed :class:`Header` from checked parts; ``encrypted_data_keys`` comes from ``raw_edks`` lazily.

    Header has no validation in ``__init__``: this fills the frozen dataclass's fields at once instead of one
    ``object.__setattr__`` per field.

    Args:
        suite: the suite.
        raw: the header bytes, commitment included.
        context: the parsed context.
        framed: the content type is framed.
        frame_length: the frame length field.
        raw_context: the serialized context.
        raw_edks: the EDK section.

    Returns:
        The header.
    """
    header = object.__new__(Header)
    header.__dict__.update(
        {
            "suite": suite,
            "message_id": raw[3:35],
            "encryption_context": context,
            "framed": framed,
            "frame_length": frame_length,
            "commitment": raw[-COMMITMENT_LEN:],
            "raw": raw,
            "raw_context": raw_context,
            "raw_edks": raw_edks,
        }
    )
    return header


def context_for(raw_context: bytes) -> Mapping[str, str]:
    """Return the parsed, read-only context for these serialized bytes (memoized: many messages share one).

    Args:
        raw_context: the header's context field.

    Returns:
        The context.

    Raises:
        MessageFormatError: the bytes are not a valid serialized context.
    """
    context = _CONTEXTS.get(raw_context)
    if context is None:
        context = FrozenContext(parse_context(raw_context), raw_context)
        if len(_CONTEXTS) >= _MEMO_SIZE:
            _CONTEXTS.clear()
        _CONTEXTS[raw_context] = context
    return context


def _walk_edks(buf: bytes | bytearray | memoryview, pos: int, need: Need | None) -> tuple[int, int]:
    """Return the EDK count and where the EDK section ends, having checked the header is that long."""
    if need is None:
        # a complete buffer: a field past the end reads as length 0; the bound check below catches it
        size = len(buf)
        edk_count = int.from_bytes(buf[pos : pos + 2], "big")
        pos += 2
        for _ in range(3 * edk_count):
            pos += 2 + int.from_bytes(buf[pos : pos + 2], "big")
            if pos > size:
                break
        if pos + 5 + COMMITMENT_LEN > size:
            raise TruncatedMessageError("the message is truncated inside the header")
        return edk_count, pos
    need(pos + 2)
    edk_count = int.from_bytes(buf[pos : pos + 2], "big")
    pos += 2
    for _ in range(3 * edk_count):
        need(pos + 2)
        pos += 2 + int.from_bytes(buf[pos : pos + 2], "big")
    need(pos + 5 + COMMITMENT_LEN)
    return edk_count, pos


def _check_content(content_type: int, frame_length: int) -> None:
    if content_type == CONTENT_FRAMED:
        if not 0 < frame_length <= MAX_FRAME_LENGTH:
            raise MessageFormatError(f"invalid frame length {frame_length}")
    elif content_type == CONTENT_NON_FRAMED:
        if frame_length != 0:
            raise MessageFormatError("a single-block message must have frame length 0")
    else:
        raise MessageFormatError(f"unknown content type {content_type}")


def parse_edks(data: bytes) -> tuple[EncryptedDataKey, ...]:
    """Parse the header's encrypted data keys section (count, then three length-prefixed fields each).

    Args:
        data: the section, its lengths already checked against the header.

    Returns:
        The encrypted data keys.

    Raises:
        MessageFormatError: a provider ID is not UTF-8, or the lengths do not add up.
    """
    count = int.from_bytes(data[0:2], "big")
    pos = 2
    edks = []
    for _ in range(count):
        end = pos + 2 + int.from_bytes(data[pos : pos + 2], "big")
        raw_provider_id = data[pos + 2 : end]
        pos = end + 2 + int.from_bytes(data[end : end + 2], "big")
        key_info = data[end + 2 : pos]
        end = pos + 2 + int.from_bytes(data[pos : pos + 2], "big")
        ciphertext = data[pos + 2 : end]
        pos = end
        try:
            provider_id = raw_provider_id.decode("utf-8")
        except UnicodeDecodeError:
            raise MessageFormatError("encrypted data key provider ID is not valid UTF-8") from None
        edks.append(EncryptedDataKey(provider_id, key_info, ciphertext))
    if pos != len(data):
        raise MessageFormatError("malformed encrypted data keys")
    return tuple(edks)


def need_in(buf: bytes | bytearray | memoryview) -> Need:
    """Return a ``need`` for a complete in-memory message: raises when it is shorter than asked."""
    size = len(buf)

    def need(n: int) -> None:
        if n > size:
            raise TruncatedMessageError("the message is truncated inside the header")

    return need


HEADER_TAG_LEN = TAG_LEN
