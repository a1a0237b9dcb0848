"""In-memory encrypt and decrypt.

Small messages with a raw AES key (the common case) take one-pass paths: encrypt joins the header from parts
fixed per key, context and frame length; decrypt reads the whole fixed layout with one ``struct`` call and
leaves to the general path anything else, including every failure, so that path alone words the errors.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from hmac import compare_digest

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslab.envelope import _keys
from kmslab.envelope._format import (
    _CONTEXTS,
    CONTENT_FRAMED,
    FINAL_FRAME_AAD,
    FINAL_FRAME_MARKER,
    FRAME_AAD,
    MAX_FRAME_LENGTH,
    MAX_FRAMES,
    SINGLE_BLOCK_AAD,
    Header,
    check_frame_length,
    context_for,
    new_header,
    parse_header,
)
from kmslab.envelope._materials import ZERO_IV, encrypt_materials, header_middle, open_header, prepare_context
from kmslab.envelope._suites import (
    COMMIT_KEY,
    COMMITMENT_LEN,
    DATA_KEY_LEN,
    IV_LEN,
    MESSAGE_ID_LEN,
    PUBLIC_KEY_CONTEXT_KEY,
    TAG_LEN,
    Suite,
)
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
_FIRST_HEAD = _U32.pack(FINAL_FRAME_MARKER) + _U32.pack(1) + _FIRST_IV
_UNSIGNED_PREFIX = _VERSION + COMMIT_KEY.id_bytes
_WRAPPED_LEN = (DATA_KEY_LEN + TAG_LEN).to_bytes(2, "big")
_U64 = struct.Struct(">Q")
_DATA_KEY_END = MESSAGE_ID_LEN + DATA_KEY_LEN
_FRESH_LEN = _DATA_KEY_END + IV_LEN


#: (raw key's EDK prefix, serialized context, frame length) -> the header bytes before the wrapping IV and after
#: the wrapped data key (bounded; cleared when full)
_LEAN_PARTS: dict[tuple[bytes, bytes, int], tuple[bytes, bytes]] = {}


def _lean_parts(edk_head: bytes, context_bytes: bytes, frame_length: int) -> tuple[bytes, bytes]:
    parts = (
        len(context_bytes).to_bytes(2, "big") + context_bytes + edk_head,
        bytes((CONTENT_FRAMED,)) + frame_length.to_bytes(4, "big"),
    )
    if len(_LEAN_PARTS) >= 64:
        _LEAN_PARTS.clear()
    _LEAN_PARTS[(edk_head, context_bytes, frame_length)] = parts
    return parts


def encrypt_bytes(
    plaintext: bytes | bytearray | memoryview,
    provider: KeyProvider,
    encryption_context: Mapping[str, str] | None,
    frame_length: int,
    cache: DataKeyCache | None,
    suite: Suite,
) -> bytes:
    """Encrypt a buffer into one framed message (see :func:`kmslab.envelope.encrypt`)."""
    if type(frame_length) is not int or not 0 < frame_length <= MAX_FRAME_LENGTH:
        check_frame_length(frame_length)
    view = plaintext if type(plaintext) is bytes else memoryview(plaintext).cast("B")
    total = len(view)
    if total > frame_length * MAX_FRAMES:
        raise EnvelopeError("the plaintext needs more than 2**32 - 1 frames; use a larger frame length")
    if cache is None and not suite.signed and type(provider) is RawAesKeyProvider:
        # The lean path: one urandom call for message ID, data key and wrapping IV; the header is joined from
        # parts fixed per (key, context, frame length) without building EDK or entry objects.
        context_bytes = prepare_context(encryption_context).serialized
        material = os.urandom(_FRESH_LEN)
        message_id = material[:MESSAGE_ID_LEN]
        data_key = material[MESSAGE_ID_LEN:_DATA_KEY_END]
        iv = material[_DATA_KEY_END:]
        edk_head = provider._edk_head  # noqa: SLF001 - the provider's own precomputed EDK prefix
        fixed = _LEAN_PARTS.get((edk_head, context_bytes, frame_length))
        if fixed is None:
            fixed = _lean_parts(edk_head, context_bytes, frame_length)
        wrapped = provider._aead.encrypt(iv, data_key, context_bytes)  # noqa: SLF001 - its wrapping key
        middle = b"".join((fixed[0], iv, _WRAPPED_LEN, wrapped, fixed[1]))
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
    if type(provider) is RawAesKeyProvider and type(message) is bytes:
        done = _decrypt_small_raw(message, provider, required_context, cache, max_frame_length)
        if done is not None:
            return done
    view = message if type(message) is bytes else memoryview(message).cast("B")
    end = len(view)
    header, pos = parse_header(view, None)
    if pos + TAG_LEN > end:
        raise TruncatedMessageError("the message is truncated inside the header authentication tag")
    header_tag = bytes(view[pos : pos + TAG_LEN])
    pos += TAG_LEN
    _, aead = open_header(header, header_tag, provider, required_context, cache)
    if header.framed and not header.suite.signed and end - pos >= 24 and view[pos : pos + 4] == _FINAL_MARKER_BYTES:
        return _decrypt_one_final_frame(view, pos, header, aead, max_frame_length), header
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


def _decrypt_small_raw(  # noqa: C901 - one linear pass of checks, each returning None
    message: bytes,
    provider: RawAesKeyProvider,
    required_context: Mapping[str, str] | None,
    cache: DataKeyCache | None,
    max_frame_length: int,
) -> tuple[bytes, Header] | None:
    """Decrypt the common small message in one pass, or return None to leave it to the general path.

    Handles exactly one shape: suite 0x0478, one EDK of ``provider``, framed content with one final frame
    and nothing after it. It checks everything the general path checks (the EDK unwraps under the context,
    the key commitment in constant time, the header tag, the frame tag, the required context) but on any
    deviation or failure it returns None instead of raising: the general path then parses the message
    again and raises the precise error, so errors stay the same whichever path a message takes. (With a
    cache, a refused message's data-key lookup may then be counted twice in the cache's hit/miss counters.)
    """
    size = len(message)
    if size < 37 or message[0:3] != _UNSIGNED_PREFIX:
        return None
    head = provider._edk_head  # noqa: SLF001 - the provider's own precomputed EDK prefix
    context_end = 37 + int.from_bytes(message[35:37], "big")
    layout = _LAYOUTS.get((context_end, len(head))) or _layout(context_end, len(head))
    body = 37 + layout.size
    if size < body + TAG_LEN:
        return None
    (raw_context, edk_head, wrap_iv, wrapped_len, wrapped, content_type, frame_length, stored_commitment, header_tag,
     final_head, length) = layout.unpack_from(message, 37)  # fmt: skip
    if edk_head != head or wrapped_len != _WRAPPED_LEN or content_type != CONTENT_FRAMED or final_head != _FIRST_HEAD:
        return None
    if not 0 < frame_length <= MAX_FRAME_LENGTH or length > frame_length or frame_length > max_frame_length:
        return None
    if body + length + TAG_LEN != size:
        return None
    context = _CONTEXTS.get(raw_context) or context_for(raw_context)
    if required_context and not _has_pairs(context, required_context):
        return None
    commit_end = body - 40  # before the header tag (16) and the final frame's marker, number, IV and length (24)
    ct_end = commit_end - 5 - COMMITMENT_LEN
    raw_edks = message[context_end:ct_end]
    data_key = None
    if cache is not None:
        cache_key = ("dec", provider.cache_id, COMMIT_KEY.suite_id, raw_edks, raw_context)
        data_key = cache.get_decrypt(cache_key)
    if data_key is None:
        try:
            data_key = provider._aead.decrypt(wrap_iv, wrapped, raw_context)  # noqa: SLF001 - its wrapping key
        except InvalidTag:
            return None
        if cache is not None:
            cache.put_decrypt(cache_key, data_key)
    message_id = message[3:35]
    key, commitment = _keys.derive_keys(data_key, message_id, COMMIT_KEY)
    if not compare_digest(commitment, stored_commitment):  # constant time
        return None
    aead = AESGCM(key)
    raw = message[:commit_end]
    try:
        aead.decrypt(ZERO_IV, header_tag, raw)
        plaintext = aead.decrypt(_FIRST_IV, message[body:], message_id + _FIRST_FINAL_AAD + length.to_bytes(8, "big"))
    except InvalidTag:
        return None
    return plaintext, new_header(COMMIT_KEY, raw, context, True, frame_length, raw_context, raw_edks)


#: (context end, raw key's EDK prefix length) -> the fixed layout of a small message after byte 37
_LAYOUTS: dict[tuple[int, int], struct.Struct] = {}


def _layout(context_end: int, head_len: int) -> struct.Struct:
    """Context, EDK prefix, wrapping IV, wrapped length, wrapped key, content type, frame length, commitment,
    header tag, final frame marker + number + IV, final frame length."""
    wrapped = DATA_KEY_LEN + TAG_LEN
    layout = struct.Struct(f">{context_end - 37}s{head_len}s{IV_LEN}s2s{wrapped}sBI{COMMITMENT_LEN}s{TAG_LEN}s20sI")
    if len(_LAYOUTS) >= 64:
        _LAYOUTS.clear()
    _LAYOUTS[(context_end, head_len)] = layout
    return layout


def _has_pairs(context: Mapping[str, str], required: Mapping[str, str]) -> bool:
    return all(key in context and context[key] == value for key, value in required.items())


def _decrypt_one_final_frame(
    view: bytes | memoryview, pos: int, header: Header, aead: AESGCM, max_frame_length: int
) -> bytes:
    """Decrypt a body that is one final frame (the common small message), requiring the message to end there."""
    fl = header.frame_length
    if fl > max_frame_length:
        raise MessageFormatError(f"frame length {fl} exceeds the limit of {max_frame_length} bytes")
    _, got_seq, iv, length = _FINAL_PREFIX.unpack_from(view, pos)
    if got_seq != 1 or iv != _FIRST_IV:
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
