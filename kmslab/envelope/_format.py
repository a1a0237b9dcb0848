"""Wire format of message format version 2: the header, the frames and the footer, in one place.

The encryption context's serialization lives in :mod:`kmslab.envelope._context`; everything else about the
layout of a message (field sizes, frame prefixes, IVs, the AAD of every frame and of a single-block body, the
checks a reader makes on each) is defined here once, and the in-memory (``_oneshot``) and streaming
(``_stream``) paths both use it. Private: the public view of a parsed header is
:class:`kmslab.envelope.Header`.

Longer than the house's ~400 lines on purpose: the whole wire layout in one module is the point (issue 12);
split, a reader would again have to follow one message across files.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kmslab.envelope._context import context_for
from kmslab.envelope._suites import COMMITMENT_LEN, Suite, suite_by_id
from kmslab.envelope.errors import EnvelopeError, MessageFormatError, TruncatedMessageError

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
        from kmslab.envelope import _sniff  # only on this error: not on every start of the CLI

        foreign = _sniff.foreign_format(_head_bytes(buf, need, _sniff.SNIFF_LEN))
        raise MessageFormatError(
            foreign or f"unsupported message format version {buf[0]} (only version 2 with key commitment is accepted)"
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
    context = context_for(raw_context)
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


def _head_bytes(buf: bytes | bytearray | memoryview, need: Need | None, size: int) -> bytes:
    """Return up to ``size`` leading bytes of the input (fewer when it is shorter)."""
    if need is not None:
        with contextlib.suppress(TruncatedMessageError):
            need(size)
    return bytes(buf[:size])


# -- the body: frames (or a single block) and the footer ---------------------------------------------------

IV_PAD = bytes(8)
U32 = struct.Struct(">I")
#: the last fields of every body AAD: the frame's sequence number and its plaintext length
_SEQ_LEN = struct.Struct(">IQ")
#: a regular frame's prefix: sequence number, IV (8 zero bytes, then the sequence number again)
REGULAR_HEAD = struct.Struct(">I8sI")
#: the final frame's prefix: end marker, sequence number, IV, plaintext length
FINAL_HEAD = struct.Struct(">II12sI")
#: a single-block body's prefix: IV, plaintext length
SINGLE_HEAD_LEN = 20


def frame_iv(seq: int) -> bytes:
    """Return the IV of frame ``seq`` (and of a single block, ``seq`` 1): 8 zero bytes and the number."""
    return IV_PAD + U32.pack(seq)


def frame_aad(message_id: bytes, seq: int, length: int) -> bytes:
    """Return the AAD of regular frame ``seq`` holding ``length`` plaintext bytes."""
    return message_id + FRAME_AAD + _SEQ_LEN.pack(seq, length)


_FINAL_AAD = struct.Struct(f">32s{len(FINAL_FRAME_AAD)}sIQ")


def final_frame_aad(message_id: bytes, seq: int, length: int) -> bytes:
    """Return the AAD of the final frame, number ``seq``, holding ``length`` plaintext bytes."""
    return _FINAL_AAD.pack(message_id, FINAL_FRAME_AAD, seq, length)


def single_block_aad(message_id: bytes, length: int) -> bytes:
    """Return the AAD of a single-block body holding ``length`` plaintext bytes."""
    return message_id + SINGLE_BLOCK_AAD + _SEQ_LEN.pack(1, length)


def final_head(seq: int, length: int) -> bytes:
    """Return the final frame's prefix (24 bytes)."""
    return FINAL_HEAD.pack(FINAL_FRAME_MARKER, seq, IV_PAD + U32.pack(seq), length)


#: the first 20 bytes of a one-frame body (final marker, number 1, IV): the common small message's
FIRST_FINAL_PREFIX = final_head(1, 0)[:20]


def check_frame_limit(frame_length: int, max_frame_length: int) -> None:
    """Refuse a message whose frames are larger than the reader will buffer.

    Raises:
        MessageFormatError: ``frame_length`` is over ``max_frame_length``.
    """
    if frame_length > max_frame_length:
        raise MessageFormatError(f"frame length {frame_length} exceeds the limit of {max_frame_length} bytes")


def check_frame(got_seq: int, seq: int, iv: bytes | memoryview) -> None:
    """Check a frame's sequence number and IV against the frame expected next.

    Raises:
        MessageFormatError: frames reordered, lost or with a foreign IV.
    """
    if got_seq != seq:
        raise MessageFormatError(f"frame {got_seq} found where frame {seq} was expected (frames reordered or lost)")
    if iv != IV_PAD + U32.pack(seq):
        raise MessageFormatError(f"frame {seq} has an unexpected IV")


def read_regular_head(buf: bytes | bytearray | memoryview, pos: int, seq: int) -> bytes:
    """Check the 16-byte prefix of regular frame ``seq`` at ``pos`` and return its IV."""
    got_seq, _, _ = REGULAR_HEAD.unpack_from(buf, pos)
    iv = bytes(buf[pos + 4 : pos + 16])
    check_frame(got_seq, seq, iv)
    return iv


def read_final_head(buf: bytes | bytearray | memoryview, pos: int, seq: int, frame_length: int) -> tuple[bytes, int]:
    """Check the 24-byte prefix of the final frame (expected number ``seq``) at ``pos``.

    Returns:
        ``(iv, plaintext length)``.

    Raises:
        MessageFormatError: wrong number or IV, or longer than the frame length.
    """
    _, got_seq, iv, length = FINAL_HEAD.unpack_from(buf, pos)
    check_frame(got_seq, seq, iv)
    if length > frame_length:
        raise MessageFormatError("the final frame is longer than the frame length")
    return iv, length


def read_single_head(buf: bytes | bytearray | memoryview, pos: int, max_length: int) -> tuple[bytes, int]:
    """Check the 20-byte prefix of a single-block body at ``pos``.

    Returns:
        ``(iv, plaintext length)``.

    Raises:
        MessageFormatError: an unexpected IV, or a body larger than ``max_length``.
    """
    iv = bytes(buf[pos : pos + 12])
    length = int.from_bytes(buf[pos + 12 : pos + SINGLE_HEAD_LEN], "big")
    if iv != frame_iv(1):
        raise MessageFormatError("the single-block body has an unexpected IV")
    if length > max_length:
        raise MessageFormatError(f"single-block body of {length} bytes exceeds the limit of {max_length} bytes")
    return iv, length


def footer(signature: bytes) -> bytes:
    """Return the footer of a signed message: the signature's length (2 bytes), then the signature."""
    return len(signature).to_bytes(2, "big") + signature
