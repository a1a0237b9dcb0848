"""In-memory encrypt and decrypt.

Small messages with a provider offering the optional EDK-section methods (a raw AES key: see
:class:`kmslab.envelope.providers.SectionKeyProvider`) take one-pass paths: encrypt joins the header from the
provider's EDK section without building EDK objects; decrypt reads the fixed tail of a one-frame message with
one ``struct`` call and leaves to the general path anything else, including every failure, so that path alone
words the errors. The message layout itself (frame prefixes, IVs, AADs) comes from :mod:`._format`.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Mapping
from hmac import compare_digest
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslab.envelope import _keys
from kmslab.envelope._context import cached_context, context_for, prepare_context
from kmslab.envelope._format import (
    CONTENT_FRAMED,
    FINAL_FRAME_MARKER,
    FIRST_FINAL_PREFIX,
    MAX_FRAME_LENGTH,
    MAX_FRAMES,
    U32,
    VERSION_2,
    Header,
    check_frame_length,
    check_frame_limit,
    final_frame_aad,
    final_head,
    footer,
    frame_aad,
    frame_iv,
    new_header,
    parse_header,
    read_final_head,
    read_regular_head,
    read_single_head,
    single_block_aad,
)
from kmslab.envelope._materials import ZERO_IV, open_header, start_message
from kmslab.envelope._suites import (
    COMMIT_KEY,
    DATA_KEY_LEN,
    IV_LEN,
    MESSAGE_ID_LEN,
    PUBLIC_KEY_CONTEXT_KEY,
    TAG_LEN,
    Suite,
)
from kmslab.envelope.cache import DataKeyCache
from kmslab.envelope.errors import AuthenticationError, EnvelopeError, MessageFormatError, TruncatedMessageError
from kmslab.envelope.providers import KeyProvider

_VERSION = bytes((VERSION_2,))
_FRAMED = bytes((CONTENT_FRAMED,))
_FIRST_IV = frame_iv(1)
_FINAL_MARKER_BYTES = U32.pack(FINAL_FRAME_MARKER)
_UNSIGNED_PREFIX = _VERSION + COMMIT_KEY.id_bytes
_U16 = struct.Struct(">H")
_TWO_U16 = struct.Struct(">HH")
#: after a one-frame message's EDK section: content type, frame length, commitment, header tag, the final
#: frame's marker + number + IV, and its length
_TAIL = struct.Struct(">BI32s16s20sI")
_DATA_KEY_END = MESSAGE_ID_LEN + DATA_KEY_LEN
_FRESH_LEN = _DATA_KEY_END + IV_LEN


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
    wrap_section: Callable[[bytes, bytes, bytes], bytes] | None = None
    if cache is None and not suite.signed:
        wrap_section = getattr(provider, "wrap_section", None)  # the protocol's optional fast path
    signing_key = None
    if wrap_section is not None:
        # one urandom call for message ID, data key and the provider's randomness (a syscall costs more than
        # AES-GCM on 1 KiB here); the header joined without EDK or materials objects
        context_bytes = prepare_context(encryption_context).serialized
        fresh = os.urandom(_FRESH_LEN)
        message_id, data_key = fresh[:MESSAGE_ID_LEN], fresh[MESSAGE_ID_LEN:_DATA_KEY_END]
        key, commitment = _keys.derive_keys(data_key, message_id, suite)
        header = b"".join(
            (
                _UNSIGNED_PREFIX,
                message_id,
                len(context_bytes).to_bytes(2, "big"),
                context_bytes,
                wrap_section(data_key, context_bytes, fresh[_DATA_KEY_END:]),
                _FRAMED,
                frame_length.to_bytes(4, "big"),
                commitment,
            )
        )
    else:
        materials, message_id, header, key, _ = start_message(
            provider, encryption_context, suite, cache, total, frame_length
        )
        signing_key = materials.signing_key
    aead = AESGCM(key)
    if total <= frame_length and not suite.signed:  # one final frame: the common small message
        return b"".join(
            (
                header,
                aead.encrypt(ZERO_IV, b"", header),
                FIRST_FINAL_PREFIX + U32.pack(total),
                aead.encrypt(_FIRST_IV, view, final_frame_aad(message_id, 1, total)),
            )
        )
    return b"".join(_frames(header, aead, message_id, view, frame_length, signing_key))


def _frames(
    header: bytes, aead: AESGCM, message_id: bytes, plaintext: bytes | memoryview, frame_length: int, signing_key: Any
) -> list[bytes]:
    """Return the parts of a message of any size: header, tag, every frame, and the footer of a signed suite."""
    parts = [header, aead.encrypt(ZERO_IV, b"", header)]
    view = memoryview(plaintext)  # frames are slices: no copies
    total = len(view)
    seq = 1
    pos = 0
    while total - pos > frame_length:
        iv = frame_iv(seq)
        parts.append(U32.pack(seq) + iv)
        parts.append(aead.encrypt(iv, view[pos : pos + frame_length], frame_aad(message_id, seq, frame_length)))
        pos += frame_length
        seq += 1
    last = total - pos
    parts.append(final_head(seq, last))
    parts.append(aead.encrypt(frame_iv(seq), view[pos:], final_frame_aad(message_id, seq, last)))
    if signing_key is not None:
        from kmslab.envelope import _signing

        hasher = _signing.new_hasher()
        for part in parts:
            hasher.update(part)
        parts.append(footer(_signing.sign(signing_key, hasher)))
    return parts


def decrypt_bytes(
    message: bytes | bytearray | memoryview,
    provider: KeyProvider,
    required_context: Mapping[str, str] | None,
    cache: DataKeyCache | None,
    max_frame_length: int,
) -> tuple[bytes, Header]:
    """Decrypt one whole message held in memory (see :func:`kmslab.envelope.decrypt`)."""
    unwrap_section = getattr(provider, "unwrap_section", None)  # the protocol's optional fast path
    if unwrap_section is not None and type(message) is bytes:
        done = _decrypt_small(message, provider, unwrap_section, required_context, cache, max_frame_length)
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
    out: list[bytes] = []
    try:
        if header.framed:
            pos = _decrypt_frames(view, pos, header, aead, out, max_frame_length)
        else:
            pos = _decrypt_single_block(view, pos, header.message_id, aead, out, max_frame_length)
    except InvalidTag:
        raise AuthenticationError("a frame's authentication tag does not verify: the body was altered") from None
    if header.suite.signed:
        pos = _verify_footer(view, pos, header)
    if pos != end:
        raise MessageFormatError(f"{end - pos} unexpected bytes after the end of the message")
    return (out[0] if len(out) == 1 else b"".join(out)), header


def _verify_footer(view: memoryview, pos: int, header: Header) -> int:
    """Verify a signed message's footer at ``pos`` over everything before it; return where it ends."""
    from kmslab.envelope import _signing

    end = len(view)
    if pos + 2 > end:
        raise TruncatedMessageError("the message is truncated: the footer is missing")
    sig_len = int.from_bytes(view[pos : pos + 2], "big")
    if pos + 2 + sig_len > end:
        raise TruncatedMessageError("the message is truncated: the signature is incomplete")
    public_key = _signing.decode_public_key(header.encryption_context.get(PUBLIC_KEY_CONTEXT_KEY, ""))
    hasher = _signing.new_hasher()
    hasher.update(view[:pos])
    _signing.verify(public_key, hasher, bytes(view[pos + 2 : pos + 2 + sig_len]))
    return pos + 2 + sig_len


def _decrypt_small(  # noqa: C901 - one linear pass of checks, each returning None
    message: bytes,
    provider: KeyProvider,
    unwrap_section: Callable[[bytes, int, bytes], tuple[bytes, int] | None],
    required_context: Mapping[str, str] | None,
    cache: DataKeyCache | None,
    max_frame_length: int,
) -> tuple[bytes, Header] | None:
    """Decrypt the common small message in one pass, or return None to leave it to the general path.

    Handles exactly one shape: suite 0x0478, one EDK that the provider's ``unwrap_section`` opens in place, framed
    content with one final frame and nothing after it. It checks everything the general path checks (the EDK
    unwraps under the context, the key commitment in constant time, the header tag, the frame tag, the
    required context) but on any deviation or failure it returns None instead of raising: the general path
    then parses the message again and raises the precise error, so errors stay the same whichever path a
    message takes. (With a cache, a refused message's data-key lookup may then be counted twice in the
    cache's hit/miss counters; without one, a message of several frames has its data key unwrapped here
    and again by the general path: one small AES-GCM decryption against a whole message's.)
    """
    size = len(message)
    if size < 37 or message[0:3] != _UNSIGNED_PREFIX:
        return None
    context_end = 37 + int.from_bytes(message[35:37], "big")
    raw_context = message[37:context_end]
    context = cached_context(raw_context)
    if context is None:
        try:
            context = context_for(raw_context)
        except MessageFormatError:
            return None
    if required_context and not _has_pairs(context, required_context):
        return None
    if cache is None:  # the provider reads its EDK section in place and says where it ends
        found = unwrap_section(message, context_end, raw_context)
        if found is None:
            return None
        data_key, edks_end = found
        raw_edks = message[context_end:edks_end]
    else:
        section_end = _one_edk_end(message, context_end)
        if section_end is None:
            return None
        edks_end = section_end
        raw_edks = message[context_end:edks_end]
        cache_key = ("dec", provider.cache_id, COMMIT_KEY.suite_id, raw_edks, raw_context)
        cached = cache.get_decrypt(cache_key)
        if cached is None:
            found = unwrap_section(raw_edks, 0, raw_context)
            if found is None or found[1] != len(raw_edks):
                return None
            cached = found[0]
            cache.put_decrypt(cache_key, cached)
        data_key = cached
    body = edks_end + _TAIL.size
    if size < body + TAG_LEN:
        return None
    content_type, frame_length, stored_commitment, header_tag, first_head, length = _TAIL.unpack_from(message, edks_end)
    if content_type != CONTENT_FRAMED or first_head != FIRST_FINAL_PREFIX:
        return None
    if not 0 < frame_length <= MAX_FRAME_LENGTH or length > frame_length or frame_length > max_frame_length:
        return None
    if body + length + TAG_LEN != size:
        return None
    message_id = message[3:35]
    key, commitment = _keys.derive_keys(data_key, message_id, COMMIT_KEY)
    if not compare_digest(commitment, stored_commitment):  # constant time
        return None
    aead = AESGCM(key)
    raw = message[: edks_end + 5 + len(stored_commitment)]
    try:
        aead.decrypt(ZERO_IV, header_tag, raw)
        plaintext = aead.decrypt(_FIRST_IV, message[body:], final_frame_aad(message_id, 1, length))
    except InvalidTag:
        return None
    return plaintext, new_header(COMMIT_KEY, raw, context, True, frame_length, raw_context, raw_edks)


def _one_edk_end(message: bytes, start: int) -> int | None:
    """Return where an EDK section of exactly one EDK starting at ``start`` ends, or None."""
    try:  # the EDK count, then three length-prefixed fields: provider ID, key info, wrapped key
        edk_count, pid_len = _TWO_U16.unpack_from(message, start)
        pos = start + 4 + pid_len
        pos += 2 + _U16.unpack_from(message, pos)[0]
        end: int = pos + 2 + _U16.unpack_from(message, pos)[0]
    except struct.error:  # a length field past the end
        return None
    return end if edk_count == 1 and end <= len(message) else None


def _has_pairs(context: Mapping[str, str], required: Mapping[str, str]) -> bool:
    return all(key in context and context[key] == value for key, value in required.items())


def _decrypt_one_final_frame(
    view: bytes | memoryview, pos: int, header: Header, aead: AESGCM, max_frame_length: int
) -> bytes:
    """Decrypt a body that is one final frame (the common small message), requiring the message to end there."""
    check_frame_limit(header.frame_length, max_frame_length)
    iv, length = read_final_head(view, pos, 1, header.frame_length)
    stop = pos + 24 + length + TAG_LEN
    end = len(view)
    if stop > end:
        raise TruncatedMessageError("the message is truncated inside the final frame")
    if stop != end:
        raise MessageFormatError(f"{end - stop} unexpected bytes after the end of the message")
    try:
        return aead.decrypt(iv, view[pos + 24 : stop], final_frame_aad(header.message_id, 1, length))
    except InvalidTag:
        raise AuthenticationError("a frame's authentication tag does not verify: the body was altered") from None


def _decrypt_frames(
    view: memoryview, pos: int, header: Header, aead: AESGCM, out: list[bytes], max_frame_length: int
) -> int:
    """Decrypt every frame from ``pos`` into ``out``; return where the body ends."""
    fl = header.frame_length
    check_frame_limit(fl, max_frame_length)
    end = len(view)
    message_id = header.message_id
    seq = 1
    while True:
        if pos + 4 > end:
            raise TruncatedMessageError("the message is truncated: a frame is missing")
        if view[pos : pos + 4] == _FINAL_MARKER_BYTES:
            if pos + 24 > end:
                raise TruncatedMessageError("the message is truncated inside the final frame header")
            iv, length = read_final_head(view, pos, seq, fl)
            pos += 24
            stop = pos + length + TAG_LEN
            if stop > end:
                raise TruncatedMessageError("the message is truncated inside the final frame")
            out.append(aead.decrypt(iv, view[pos:stop], final_frame_aad(message_id, seq, length)))
            return stop
        if pos + 16 > end:
            raise TruncatedMessageError("the message is truncated inside a frame")
        iv = read_regular_head(view, pos, seq)
        pos += 16
        stop = pos + fl + TAG_LEN
        if stop > end:
            raise TruncatedMessageError("the message is truncated inside a frame")
        out.append(aead.decrypt(iv, view[pos:stop], frame_aad(message_id, seq, fl)))
        pos = stop
        seq += 1
        if seq > MAX_FRAMES:
            raise MessageFormatError("the message has more than 2**32 - 1 frames")


def _decrypt_single_block(
    view: memoryview, pos: int, message_id: bytes, aead: AESGCM, out: list[bytes], max_len: int
) -> int:
    """Decrypt a single-block body at ``pos`` into ``out``; return where it ends."""
    end = len(view)
    if pos + 20 > end:
        raise TruncatedMessageError("the message is truncated inside the body header")
    iv, length = read_single_head(view, pos, max_len)
    pos += 20
    stop = pos + length + TAG_LEN
    if stop > end:
        raise TruncatedMessageError("the message is truncated inside the body")
    out.append(aead.decrypt(iv, view[pos:stop], single_block_aad(message_id, length)))
    return stop
