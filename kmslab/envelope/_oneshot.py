"""In-memory encrypt and decrypt: the lean path for small messages."""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslab.envelope import _keys
from kmslab.envelope._format import (
    FINAL_FRAME_AAD,
    FINAL_FRAME_MARKER,
    FRAME_AAD,
    MAX_FRAMES,
    SINGLE_BLOCK_AAD,
    Header,
    parse_header,
)
from kmslab.envelope._materials import ZERO_IV, encrypt_materials, header_middle, open_header, prepare_context
from kmslab.envelope._suites import DATA_KEY_LEN, IV_LEN, MESSAGE_ID_LEN, PUBLIC_KEY_CONTEXT_KEY, TAG_LEN, Suite
from kmslab.envelope.cache import DataKeyCache
from kmslab.envelope.errors import AuthenticationError, EnvelopeError, MessageFormatError, TruncatedMessageError
from kmslab.envelope.providers import KeyProvider, RawAesKeyProvider

_VERSION = b"\x02"
_IV_PAD = bytes(8)
_SEQ_LEN = struct.Struct(">IQ")
_U32 = struct.Struct(">I")
_FINAL_PREFIX = struct.Struct(">II12sI")
_FIRST_IV = _IV_PAD + _U32.pack(1)
_FINAL_MARKER_BYTES = _U32.pack(FINAL_FRAME_MARKER)
_FIRST_FINAL_AAD = FINAL_FRAME_AAD + _U32.pack(1)
_U64 = struct.Struct(">Q")
_DATA_KEY_END = MESSAGE_ID_LEN + DATA_KEY_LEN
_FRESH_LEN = _DATA_KEY_END + IV_LEN


def check_frame_length(frame_length: int) -> None:
    """Raise :class:`EnvelopeError` unless ``1 <= frame_length <= 2**31 - 1``."""
    if not isinstance(frame_length, int) or not 0 < frame_length <= 2**31 - 1:
        raise EnvelopeError(f"frame length must be between 1 and 2**31 - 1 bytes, got {frame_length!r}")


def encrypt_bytes(
    plaintext: bytes | bytearray | memoryview,
    provider: KeyProvider,
    encryption_context: Mapping[str, str] | None,
    frame_length: int,
    cache: DataKeyCache | None,
    suite: Suite,
) -> bytes:
    """Encrypt a buffer into one framed message (see :func:`kmslab.envelope.encrypt`)."""
    check_frame_length(frame_length)
    view = plaintext if type(plaintext) is bytes else memoryview(plaintext).cast("B")
    total = len(view)
    if total > frame_length * MAX_FRAMES:
        raise EnvelopeError("the plaintext needs more than 2**32 - 1 frames; use a larger frame length")
    if cache is None and not suite.signed and type(provider) is RawAesKeyProvider:
        # The lean path: one urandom call for message ID, data key and wrapping IV; the header is joined
        # from the provider's precomputed EDK prefix without building EDK or entry objects.
        context_bytes = prepare_context(encryption_context).serialized
        material = os.urandom(_FRESH_LEN)
        message_id = material[:MESSAGE_ID_LEN]
        data_key = material[MESSAGE_ID_LEN:_DATA_KEY_END]
        middle = b"".join(
            (
                len(context_bytes).to_bytes(2, "big"),
                context_bytes,
                provider.edk_section(data_key, material[_DATA_KEY_END:], context_bytes),
                b"\x02",
                frame_length.to_bytes(4, "big"),
            )
        )
    else:
        entry = encrypt_materials(provider, encryption_context, suite, cache, total)
        message_id = os.urandom(MESSAGE_ID_LEN)
        data_key = entry.data_key
        middle = header_middle(entry, frame_length)
    key, commitment = _keys.derive_keys(data_key, message_id, suite)
    header = b"".join((_VERSION, suite.id_bytes, message_id, middle, commitment))
    aead = AESGCM(key)
    if total <= frame_length and not suite.signed:  # one final frame: the common small message
        iv = _FIRST_IV
        return b"".join(
            (
                header,
                aead.encrypt(ZERO_IV, b"", header),
                _FINAL_PREFIX.pack(FINAL_FRAME_MARKER, 1, iv, total),
                aead.encrypt(iv, view, message_id + FINAL_FRAME_AAD + _SEQ_LEN.pack(1, total)),
            )
        )
    parts = [header, aead.encrypt(ZERO_IV, b"", header)]
    view = memoryview(view)  # frames are slices: no copies
    seq = 1
    pos = 0
    regular_aad = message_id + FRAME_AAD
    while total - pos > frame_length:
        seq_bytes = _U32.pack(seq)
        iv = _IV_PAD + seq_bytes
        parts.append(seq_bytes + iv)
        parts.append(aead.encrypt(iv, view[pos : pos + frame_length], regular_aad + _SEQ_LEN.pack(seq, frame_length)))
        pos += frame_length
        seq += 1
    last = total - pos
    iv = _IV_PAD + _U32.pack(seq)
    parts.append(_FINAL_PREFIX.pack(FINAL_FRAME_MARKER, seq, iv, last))
    parts.append(aead.encrypt(iv, view[pos:], message_id + FINAL_FRAME_AAD + _SEQ_LEN.pack(seq, last)))
    if suite.signed:
        from kmslab.envelope import _signing

        hasher = _signing.new_hasher()
        for part in parts:
            hasher.update(part)
        signature = _signing.sign(entry.signing_key, hasher)
        parts.append(len(signature).to_bytes(2, "big") + signature)
    return b"".join(parts)


def decrypt_bytes(
    message: bytes | bytearray | memoryview,
    provider: KeyProvider,
    required_context: Mapping[str, str] | None,
    cache: DataKeyCache | None,
    max_frame_length: int,
) -> tuple[bytes, Header]:
    """Decrypt one whole message held in memory (see :func:`kmslab.envelope.decrypt`)."""
    view = message if type(message) is bytes else memoryview(message).cast("B")
    end = len(view)
    header, pos = parse_header(view, None)
    if pos + TAG_LEN > end:
        raise TruncatedMessageError("the message is truncated inside the header authentication tag")
    header_tag = view[pos : pos + TAG_LEN]
    pos += TAG_LEN
    _, aead = open_header(header, header_tag, provider, required_context, cache)
    if header.framed and not header.suite.signed and end - pos >= 24 and view[pos : pos + 4] == _FINAL_MARKER_BYTES:
        return _decrypt_one_final_frame(view, pos, header, aead, max_frame_length), header
    if type(view) is bytes:
        view = memoryview(view)
    message_id = header.message_id
    out: list[bytes] = []
    try:
        if header.framed:
            pos = _decrypt_frames(view, pos, header, aead, out, max_frame_length)
        else:
            pos = _decrypt_single_block(view, pos, message_id, aead, out, max_frame_length)
    except InvalidTag:
        raise AuthenticationError("a frame's authentication tag does not verify: the body was altered") from None
    if header.suite.signed:
        from kmslab.envelope import _signing

        body_end = pos
        if pos + 2 > end:
            raise TruncatedMessageError("the message is truncated: the footer is missing")
        sig_len = int.from_bytes(view[pos : pos + 2], "big")
        pos += 2
        if pos + sig_len > end:
            raise TruncatedMessageError("the message is truncated: the signature is incomplete")
        public_key = _signing.decode_public_key(header.encryption_context.get(PUBLIC_KEY_CONTEXT_KEY, ""))
        hasher = _signing.new_hasher()
        hasher.update(view[:body_end])
        _signing.verify(public_key, hasher, bytes(view[pos : pos + sig_len]))
        pos += sig_len
    if pos != end:
        raise MessageFormatError(f"{end - pos} unexpected bytes after the end of the message")
    return (out[0] if len(out) == 1 else b"".join(out)), header


def _decrypt_one_final_frame(
    view: bytes | memoryview, pos: int, header: Header, aead: AESGCM, max_frame_length: int
) -> bytes:
    """Decrypt a body that is one final frame (the common small message), requiring the message to end there."""
    fl = header.frame_length
    if fl > max_frame_length:
        raise MessageFormatError(f"frame length {fl} exceeds the limit of {max_frame_length} bytes")
    _, got_seq, iv, length = _FINAL_PREFIX.unpack_from(view, pos)
    _check_frame(got_seq, 1, iv)
    if length > fl:
        raise MessageFormatError("the final frame is longer than the frame length")
    stop = pos + 24 + length + TAG_LEN
    end = len(view)
    if stop > end:
        raise TruncatedMessageError("the message is truncated inside the final frame")
    if stop != end:
        raise MessageFormatError(f"{end - stop} unexpected bytes after the end of the message")
    try:
        return aead.decrypt(iv, view[pos + 24 : stop], header.message_id + _FIRST_FINAL_AAD + _U64.pack(length))
    except InvalidTag:
        raise AuthenticationError("a frame's authentication tag does not verify: the body was altered") from None


def _decrypt_frames(
    view: memoryview, pos: int, header: Header, aead: AESGCM, out: list[bytes], max_frame_length: int
) -> int:
    fl = header.frame_length
    if fl > max_frame_length:
        raise MessageFormatError(f"frame length {fl} exceeds the limit of {max_frame_length} bytes")
    end = len(view)
    regular_aad = header.message_id + FRAME_AAD
    seq = 1
    while True:
        if pos + 4 > end:
            raise TruncatedMessageError("the message is truncated: a frame is missing")
        marker = _U32.unpack_from(view, pos)[0]
        if marker == FINAL_FRAME_MARKER:
            if pos + 24 > end:
                raise TruncatedMessageError("the message is truncated inside the final frame header")
            _, got_seq, iv, length = _FINAL_PREFIX.unpack_from(view, pos)
            _check_frame(got_seq, seq, iv)
            if length > fl:
                raise MessageFormatError("the final frame is longer than the frame length")
            pos += 24
            stop = pos + length + TAG_LEN
            if stop > end:
                raise TruncatedMessageError("the message is truncated inside the final frame")
            out.append(
                aead.decrypt(iv, view[pos:stop], header.message_id + FINAL_FRAME_AAD + _SEQ_LEN.pack(seq, length))
            )
            return int(stop)
        _check_frame(int(marker), seq, bytes(view[pos + 4 : pos + 16]))
        pos += 16
        stop = pos + fl + TAG_LEN
        if stop > end:
            raise TruncatedMessageError("the message is truncated inside a frame")
        out.append(aead.decrypt(_IV_PAD + _U32.pack(seq), view[pos:stop], regular_aad + _SEQ_LEN.pack(seq, fl)))
        pos = stop
        seq += 1
        if seq > MAX_FRAMES:
            raise MessageFormatError("the message has more than 2**32 - 1 frames")


def _check_frame(got_seq: int, seq: int, iv: bytes) -> None:
    if got_seq != seq:
        raise MessageFormatError(f"frame {got_seq} found where frame {seq} was expected (frames reordered or lost)")
    if iv != _IV_PAD + _U32.pack(seq):
        raise MessageFormatError(f"frame {seq} has an unexpected IV")


def _decrypt_single_block(
    view: memoryview, pos: int, message_id: bytes, aead: AESGCM, out: list[bytes], max_len: int
) -> int:
    end = len(view)
    if pos + 20 > end:
        raise TruncatedMessageError("the message is truncated inside the body header")
    iv = bytes(view[pos : pos + 12])
    length = int.from_bytes(view[pos + 12 : pos + 20], "big")
    if iv != _IV_PAD + _U32.pack(1):
        raise MessageFormatError("the single-block body has an unexpected IV")
    if length > max_len:
        raise MessageFormatError(f"single-block body of {length} bytes exceeds the limit of {max_len} bytes")
    pos += 20
    stop = pos + length + TAG_LEN
    if stop > end:
        raise TruncatedMessageError("the message is truncated inside the body")
    out.append(aead.decrypt(iv, view[pos:stop], message_id + SINGLE_BLOCK_AAD + _SEQ_LEN.pack(1, length)))
    return stop
