"""Round trips through the in-memory and streaming APIs, across sizes, suites and context checks."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from kmslab.envelope import (
    COMMIT_KEY,
    COMMIT_KEY_ECDSA_P384,
    DEFAULT_FRAME_LENGTH,
    ContextMismatchError,
    DecryptResult,
    EnvelopeError,
    KeyProviderError,
    RawAesKeyProvider,
    decrypt,
    decrypt_stream,
    encrypt,
    encrypt_stream,
    inspect_header,
)
from kmslab.errors import KmslabError

FRAME = 64
SIZES = [0, 1, FRAME - 1, FRAME, FRAME + 1, 3 * FRAME, 3 * FRAME + 7, 10 * FRAME]


@pytest.mark.parametrize("suite", [COMMIT_KEY, COMMIT_KEY_ECDSA_P384], ids=["0478", "0578"])
@pytest.mark.parametrize("size", SIZES)
def test_round_trip_bytes_and_streams(raw_provider: RawAesKeyProvider, size: int, suite: object) -> None:
    plaintext = os.urandom(size)
    context = {"tenant": "acme", "purpose": "test"}
    message = encrypt(plaintext, provider=raw_provider, encryption_context=context, frame_length=FRAME, algorithm=suite)
    result = decrypt(message, provider=raw_provider, required_context={"tenant": "acme"})
    assert result.plaintext == plaintext
    assert result.encryption_context["tenant"] == "acme"
    assert result.header.suite == suite
    assert result.header.frame_length == FRAME

    streamed = io.BytesIO()
    header = encrypt_stream(
        io.BytesIO(plaintext),
        streamed,
        provider=raw_provider,
        encryption_context=context,
        frame_length=FRAME,
        algorithm=suite,
    )
    assert header.encryption_context["purpose"] == "test"
    # Both paths frame identically: same length (different message IDs and keys).
    assert len(streamed.getvalue()) == len(message)
    out = io.BytesIO()
    verified = decrypt_stream(io.BytesIO(streamed.getvalue()), out, provider=raw_provider, required_context=context)
    assert out.getvalue() == plaintext
    assert verified.message_id == header.message_id
    # The two implementations read each other's output.
    assert decrypt(streamed.getvalue(), provider=raw_provider).plaintext == plaintext
    out2 = io.BytesIO()
    decrypt_stream(io.BytesIO(message), out2, provider=raw_provider)
    assert out2.getvalue() == plaintext


def test_frame_count_matches_size(raw_provider: RawAesKeyProvider) -> None:
    # frames = ceil(n / frame) with a final frame of 1..frame bytes, or one empty final frame for n == 0
    for size, frames in [(0, 1), (1, 1), (FRAME, 1), (FRAME + 1, 2), (3 * FRAME, 3)]:
        message = encrypt(os.urandom(size), provider=raw_provider, frame_length=FRAME)
        header = inspect_header(message)
        body = len(message) - len(header.raw) - 16
        final_overhead = 4 + 4 + 12 + 4 + 16
        regular = (frames - 1) * (4 + 12 + FRAME + 16)
        assert body == regular + final_overhead + (size - (frames - 1) * FRAME)


def test_decrypt_result_unpacks_to_plaintext_and_header(raw_provider: RawAesKeyProvider) -> None:
    message = encrypt(b"hello", provider=raw_provider, encryption_context={"a": "b"})
    result = decrypt(message, provider=raw_provider)
    assert isinstance(result, DecryptResult)
    plaintext, header = result
    assert plaintext == b"hello"
    assert header.encryption_context == {"a": "b"}
    assert "hello" not in repr(result)


def test_default_frame_length_is_one_mebibyte(raw_provider: RawAesKeyProvider) -> None:
    assert DEFAULT_FRAME_LENGTH == 1024 * 1024
    assert inspect_header(encrypt(b"x", provider=raw_provider)).frame_length == DEFAULT_FRAME_LENGTH


def test_progress_reports_every_plaintext_byte(raw_provider: RawAesKeyProvider) -> None:
    plaintext = os.urandom(5 * FRAME + 3)
    seen: list[int] = []
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(plaintext), out, provider=raw_provider, frame_length=FRAME, progress=seen.append)
    assert sum(seen) == len(plaintext) and len(seen) == 6
    seen.clear()
    decrypt_stream(io.BytesIO(out.getvalue()), io.BytesIO(), provider=raw_provider, progress=seen.append)
    assert sum(seen) == len(plaintext)


class _Trickle(io.RawIOBase):
    """A pipe-like source that returns at most 7 bytes per read."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._data.read(min(7, len(buffer)))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_short_reads_from_pipes_are_handled(raw_provider: RawAesKeyProvider) -> None:
    plaintext = os.urandom(4 * FRAME + 5)
    out = io.BytesIO()
    encrypt_stream(_Trickle(plaintext), out, provider=raw_provider, frame_length=FRAME)
    back = io.BytesIO()
    decrypt_stream(_Trickle(out.getvalue()), back, provider=raw_provider)
    assert hashlib.sha256(back.getvalue()).digest() == hashlib.sha256(plaintext).digest()


def test_required_context_missing_or_different_is_refused(raw_provider: RawAesKeyProvider) -> None:
    message = encrypt(b"data", provider=raw_provider, encryption_context={"tenant": "acme"})
    with pytest.raises(ContextMismatchError, match="no key 'stage'"):
        decrypt(message, provider=raw_provider, required_context={"stage": "prod"})
    with pytest.raises(ContextMismatchError, match="does not match"):
        decrypt(message, provider=raw_provider, required_context={"tenant": "other"})
    out = io.BytesIO()
    with pytest.raises(ContextMismatchError):
        decrypt_stream(io.BytesIO(message), out, provider=raw_provider, required_context={"tenant": "other"})
    assert out.getvalue() == b""


def test_reserved_and_non_string_context_is_refused(raw_provider: RawAesKeyProvider) -> None:
    with pytest.raises(ContextMismatchError, match="reserved"):
        encrypt(b"x", provider=raw_provider, encryption_context={"aws-crypto-public-key": "x"})
    with pytest.raises(ContextMismatchError):
        encrypt(b"x", provider=raw_provider, encryption_context={"a": 1})  # type: ignore[dict-item]


def test_signed_suite_exposes_public_key_in_context(raw_provider: RawAesKeyProvider) -> None:
    message = encrypt(b"x", provider=raw_provider, encryption_context={"a": "b"}, algorithm=0x0578)
    context = decrypt(message, provider=raw_provider).encryption_context
    assert set(context) == {"a", "aws-crypto-public-key"}


def test_wrong_wrapping_key_is_a_key_provider_error(raw_provider: RawAesKeyProvider) -> None:
    message = encrypt(b"x", provider=raw_provider)
    other = RawAesKeyProvider(raw_provider.namespace, raw_provider.name, os.urandom(32))
    with pytest.raises(KeyProviderError, match="could not decrypt"):
        decrypt(message, provider=other)
    stranger = RawAesKeyProvider("other-ns", raw_provider.name, raw_provider.wrapping_key)
    with pytest.raises(KeyProviderError, match="no data key wrapped"):
        decrypt(message, provider=stranger)


def test_errors_share_one_root() -> None:
    assert issubclass(EnvelopeError, KmslabError)
    for cls in (ContextMismatchError, KeyProviderError):
        assert issubclass(cls, EnvelopeError)


def test_raw_provider_validates_and_hides_key() -> None:
    with pytest.raises(KeyProviderError):
        RawAesKeyProvider("ns", "name", b"short")
    with pytest.raises(KeyProviderError):
        RawAesKeyProvider("aws-kms", "name", bytes(32))
    key = bytes(range(32))
    provider = RawAesKeyProvider("ns", "name", key)
    assert key.hex() not in repr(provider) and str(key) not in repr(provider)
    assert key.hex() not in provider.cache_id


def test_invalid_frame_length_is_refused(raw_provider: RawAesKeyProvider) -> None:
    with pytest.raises(EnvelopeError, match="frame length"):
        encrypt(b"x", provider=raw_provider, frame_length=0)
    with pytest.raises(EnvelopeError, match="frame length"):
        encrypt_stream(io.BytesIO(b"x"), io.BytesIO(), provider=raw_provider, frame_length=2**31)


def test_max_frame_length_guards_decrypt_memory(raw_provider: RawAesKeyProvider) -> None:
    message = encrypt(b"x" * 100, provider=raw_provider, frame_length=4096)
    with pytest.raises(EnvelopeError, match="exceeds the limit"):
        decrypt(message, provider=raw_provider, max_frame_length=1024)
    with pytest.raises(EnvelopeError, match="exceeds the limit"):
        decrypt_stream(io.BytesIO(message), io.BytesIO(), provider=raw_provider, max_frame_length=1024)


def test_concurrent_use_with_many_contexts_and_a_shared_cache(raw_provider: RawAesKeyProvider) -> None:
    # More distinct headers than the parser's memo holds, from several threads sharing one cache.
    import threading

    from kmslab.envelope import DataKeyCache

    cache = DataKeyCache(capacity=32)
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(150):
                context = {"tenant": f"t{(worker * 37 + i) % 90}"}
                plaintext = b"%d-%d" % (worker, i)
                message = encrypt(plaintext, provider=raw_provider, encryption_context=context, cache=cache)
                result = decrypt(message, provider=raw_provider, required_context=context, cache=cache)
                assert result.plaintext == plaintext
                # again at once: a hit unless other threads pushed 32 entries in between (the hit counter
                # must not depend on how the threads happen to interleave)
                assert decrypt(message, provider=raw_provider, cache=cache).plaintext == plaintext
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert cache.hits > 0 and cache.misses > 0
