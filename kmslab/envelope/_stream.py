"""Streaming encrypt and decrypt with constant memory.

Plaintext is read with ``readinto`` into preallocated frame buffers and sealed with ``update_into`` into a
reused output buffer, so a frame costs no allocation proportional to its size. On decrypt each frame is
buffered whole and written only after its tag verifies (and, for the final frame, after the signature and
the end of input are checked).

Decrypted plaintext is handed to ``dst.write`` in slices of at most :data:`WRITE_SLICE` bytes (views of the
frame buffer, so no copy). Frames of 1 MiB would otherwise be written as 1 MiB writes at 1 MiB-aligned file
offsets, for which recent Linux kernels (ext4 large folios) allocate 1 MiB page-cache folios; on the VM we
measured (free memory reported back to the host by the virtio balloon), the copy into those high-order folios
took 1.0-1.6 s of ``write`` time per GiB against 0.2 s for 256 KiB writes, and a plain 1 MiB-write loop is
slowed the same way (see ``bench/envelope.py``). Encrypted output is never aligned that way: the header
shifts every frame.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kmslab.envelope._context import FrozenContext
from kmslab.envelope._format import (
    FINAL_FRAME_MARKER,
    FINAL_HEAD,
    IV_PAD,
    MAX_FRAMES,
    REGULAR_HEAD,
    SINGLE_HEAD_LEN,
    U32,
    Header,
    check_frame_length,
    check_frame_limit,
    final_frame_aad,
    footer,
    frame_aad,
    frame_iv,
    parse_header,
    read_final_head,
    read_regular_head,
    read_single_head,
    single_block_aad,
)
from kmslab.envelope._materials import ZERO_IV, open_header, start_message
from kmslab.envelope._suites import PUBLIC_KEY_CONTEXT_KEY, TAG_LEN, Suite
from kmslab.envelope.errors import AuthenticationError, EnvelopeError, MessageFormatError, TruncatedMessageError
from kmslab.envelope.providers import KeyProvider

Progress = Callable[[int], Any] | None


class Writer(Protocol):
    """Where decrypted plaintext goes: a binary stream, or anything with its ``write``."""

    def write(self, data: memoryview, /) -> object:
        """Write ``data``."""
        ...


_PAD = FINAL_HEAD.size  # room in front of the ciphertext for the longest frame prefix (final frame)

#: largest single ``dst.write`` of decrypted plaintext (see the module docstring)
WRITE_SLICE = 256 * 1024


def write_sliced(write: Callable[[memoryview], Any], view: memoryview) -> None:
    """Write ``view`` through ``write`` in slices of at most :data:`WRITE_SLICE` bytes (no copy).

    Args:
        write: the destination's ``write``.
        view: the bytes to write.
    """
    size = len(view)
    if size <= WRITE_SLICE:
        write(view)
        return
    for start in range(0, size, WRITE_SLICE):
        write(view[start : start + WRITE_SLICE])


def read_full(src: Any, view: memoryview) -> int:
    """Fill ``view`` from ``src``, stopping early only at end of input.

    Args:
        src: a binary stream (``readinto`` is used when it has one, ``read`` otherwise).
        view: the buffer to fill.

    Returns:
        The number of bytes read (less than ``len(view)`` only at end of input).
    """
    total = 0
    size = len(view)
    readinto = getattr(src, "readinto", None)
    while total < size:
        if readinto is not None:
            got = readinto(view[total:])
        else:
            chunk = src.read(size - total)
            got = len(chunk)
            view[total : total + got] = chunk
        if not got:
            break
        total += got
    return total


def read_stream_header(src: Any) -> Header:
    """Read exactly the header from a stream (not the tag that follows) and parse it.

    Args:
        src: a binary stream at the start of a message.

    Returns:
        The parsed header.

    Raises:
        MessageFormatError: malformed or truncated header.
    """
    buf = bytearray()

    def need(n: int) -> None:
        missing = n - len(buf)
        if missing > 0:
            chunk = bytearray(missing)
            got = read_full(src, memoryview(chunk))
            buf.extend(memoryview(chunk)[:got])
            if got != missing:
                raise TruncatedMessageError("the message is truncated inside the header")

    return parse_header(buf, need)[0]


def _exact_reader(src: Any) -> Callable[[int], bytes]:
    def read(n: int) -> bytes:
        buf = bytearray(n)
        if read_full(src, memoryview(buf)) != n:
            raise TruncatedMessageError("the message is truncated")
        return bytes(buf)

    return read


def encrypt_stream(
    src: BinaryIO,
    dst: BinaryIO,
    provider: KeyProvider,
    encryption_context: Mapping[str, str] | None,
    frame_length: int,
    progress: Progress,
    suite: Suite,
) -> Header:
    """Encrypt ``src`` into ``dst`` frame by frame (see :func:`kmslab.envelope.encrypt_stream`)."""
    check_frame_length(frame_length)
    materials, message_id, header, key, commitment = start_message(
        provider, encryption_context, suite, None, 0, frame_length
    )
    aes = algorithms.AES(key)
    enc = Cipher(aes, modes.GCM(ZERO_IV)).encryptor()
    enc.authenticate_additional_data(header)
    enc.finalize()
    hasher = None
    if suite.signed:
        from kmslab.envelope import _signing

        hasher = _signing.new_hasher()
    write = dst.write
    for piece in (header, enc.tag):
        write(piece)
        if hasher is not None:
            hasher.update(piece)

    fl = frame_length
    cur = bytearray(fl)
    nxt = bytearray(fl)
    cur_mv, nxt_mv = memoryview(cur), memoryview(nxt)
    out = bytearray(_PAD + fl + 2 * TAG_LEN)
    out_mv = memoryview(out)
    seq = 1
    n = read_full(src, cur_mv)
    while True:
        final = n < fl
        if not final:
            n_next = read_full(src, nxt_mv)
            final = n_next == 0
        iv = frame_iv(seq)
        if final:
            start = 0
            FINAL_HEAD.pack_into(out, 0, FINAL_FRAME_MARKER, seq, iv, n)
            aad = final_frame_aad(message_id, seq, n)
        else:
            start = _PAD - REGULAR_HEAD.size
            REGULAR_HEAD.pack_into(out, start, seq, IV_PAD, seq)
            aad = frame_aad(message_id, seq, n)
        enc = Cipher(aes, modes.GCM(iv)).encryptor()
        enc.authenticate_additional_data(aad)
        enc.update_into(cur_mv[:n], out_mv[_PAD:])
        enc.finalize()
        out[_PAD + n : _PAD + n + TAG_LEN] = enc.tag
        chunk = out_mv[start : _PAD + n + TAG_LEN]
        write(chunk)
        if hasher is not None:
            hasher.update(chunk)
        if progress is not None:
            progress(n)
        if final:
            break
        seq += 1
        if seq > MAX_FRAMES:
            raise EnvelopeError("the plaintext needs more than 2**32 - 1 frames; use a larger frame length")
        cur, nxt, cur_mv, nxt_mv, n = nxt, cur, nxt_mv, cur_mv, n_next
    if hasher is not None:
        from kmslab.envelope import _signing

        write(footer(_signing.sign(materials.signing_key, hasher)))
    context = FrozenContext(materials.context)
    return Header(suite, message_id, context, materials.edks, True, frame_length, commitment, header)


def decrypt_stream(
    src: BinaryIO,
    dst: Writer,
    provider: KeyProvider,
    required_context: Mapping[str, str] | None,
    progress: Progress,
    max_frame_length: int,
    on_header: Callable[[Header], Any] | None = None,
) -> Header:
    """Decrypt ``src`` into ``dst`` frame by frame (see :func:`kmslab.envelope.decrypt_stream`).

    ``on_header`` is called with the verified header before any plaintext is written (the CLI uses it to
    hold a signed message's output until the signature verifies).
    """
    read = _exact_reader(src)
    header = read_stream_header(src)
    header_tag = read(TAG_LEN)
    key, _ = open_header(header, header_tag, provider, required_context, None)
    if on_header is not None:
        on_header(header)
    hasher = None
    public_key = None
    if header.suite.signed:
        from kmslab.envelope import _signing

        public_key = _signing.decode_public_key(header.encryption_context.get(PUBLIC_KEY_CONTEXT_KEY, ""))
        hasher = _signing.new_hasher()
        hasher.update(header.raw)
        hasher.update(header_tag)
    aes = algorithms.AES(key)
    try:
        if header.framed:
            final_plain = _decrypt_frames(src, dst, header, aes, hasher, progress, max_frame_length)
        else:
            final_plain = _decrypt_single(src, header, aes, hasher, max_frame_length)
    except InvalidTag:
        raise AuthenticationError("a frame's authentication tag does not verify: the body was altered") from None
    if hasher is not None and public_key is not None:
        from kmslab.envelope import _signing

        sig_len = int.from_bytes(read(2), "big")
        _signing.verify(public_key, hasher, read(sig_len))
    if src.read(1):
        raise MessageFormatError("unexpected bytes after the end of the message")
    write_sliced(dst.write, final_plain)
    if progress is not None:
        progress(len(final_plain))
    return header


def _decrypt_frames(
    src: Any, dst: Writer, header: Header, aes: Any, hasher: Any, progress: Progress, max_frame_length: int
) -> memoryview:
    """Decrypt and release every regular frame; return the final frame's plaintext, still unreleased."""
    fl = header.frame_length
    check_frame_limit(fl, max_frame_length)
    body = bytearray(16 + fl + TAG_LEN)
    body_mv = memoryview(body)
    out = bytearray(fl + TAG_LEN)
    out_mv = memoryview(out)
    message_id = header.message_id
    write = dst.write
    seq = 1
    while True:
        if read_full(src, body_mv[:4]) != 4:
            raise TruncatedMessageError("the message is truncated: a frame is missing")
        if U32.unpack_from(body, 0)[0] == FINAL_FRAME_MARKER:
            break
        want = 12 + fl + TAG_LEN
        if read_full(src, body_mv[4 : 4 + want]) != want:
            raise TruncatedMessageError("the message is truncated inside a frame")
        iv = read_regular_head(body, 0, seq)
        if hasher is not None:
            hasher.update(body_mv[: 4 + want])
        dec = Cipher(aes, modes.GCM(iv)).decryptor()
        dec.authenticate_additional_data(frame_aad(message_id, seq, fl))
        dec.update_into(body_mv[16 : 16 + fl], out_mv)
        dec.finalize_with_tag(bytes(body_mv[16 + fl : 16 + fl + TAG_LEN]))
        write_sliced(write, out_mv[:fl])
        if progress is not None:
            progress(fl)
        seq += 1
        if seq > MAX_FRAMES:
            raise MessageFormatError("the message has more than 2**32 - 1 frames")
    if read_full(src, body_mv[4:24]) != 20:
        raise TruncatedMessageError("the message is truncated inside the final frame header")
    iv, length = read_final_head(body, 0, seq, fl)
    if hasher is not None:
        hasher.update(body_mv[:24])
    want = length + TAG_LEN
    if read_full(src, body_mv[:want]) != want:
        raise TruncatedMessageError("the message is truncated inside the final frame")
    if hasher is not None:
        hasher.update(body_mv[:want])
    dec = Cipher(aes, modes.GCM(iv)).decryptor()
    dec.authenticate_additional_data(final_frame_aad(message_id, seq, length))
    dec.update_into(body_mv[:length], out_mv)
    dec.finalize_with_tag(bytes(body_mv[length:want]))
    return out_mv[:length]


def _decrypt_single(src: Any, header: Header, aes: Any, hasher: Any, max_len: int) -> memoryview:
    prefix = _exact_reader(src)(SINGLE_HEAD_LEN)
    iv, length = read_single_head(prefix, 0, max_len)
    body = bytearray(length + TAG_LEN)
    if read_full(src, memoryview(body)) != len(body):
        raise TruncatedMessageError("the message is truncated inside the body")
    if hasher is not None:
        hasher.update(prefix)
        hasher.update(body)
    out = bytearray(length + TAG_LEN)
    dec = Cipher(aes, modes.GCM(iv)).decryptor()
    dec.authenticate_additional_data(single_block_aad(header.message_id, length))
    dec.update_into(memoryview(body)[:length], out)
    dec.finalize_with_tag(bytes(body[length:]))
    return memoryview(out)[:length]
