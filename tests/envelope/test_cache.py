"""The data-key cache: limits by messages, bytes and age, capacity, hits and misses, decrypt-side reuse."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from kmslab.envelope import (
    DataKeyCache,
    EncryptedDataKey,
    EnvelopeError,
    RawAesKeyProvider,
    decrypt,
    encrypt,
    inspect_header,
)


class CountingProvider:
    """Wraps a raw AES provider and counts provider calls (the KMS calls a cache saves)."""

    def __init__(self, inner: RawAesKeyProvider) -> None:
        self.inner = inner
        self.generated = 0
        self.decrypted = 0

    @property
    def cache_id(self) -> str:
        return self.inner.cache_id

    def generate_data_key(self, encryption_context: Mapping[str, str]) -> tuple[bytes, tuple[EncryptedDataKey, ...]]:
        self.generated += 1
        return self.inner.generate_data_key(encryption_context)

    def decrypt_data_key(self, edks: Sequence[EncryptedDataKey], encryption_context: Mapping[str, str]) -> bytes:
        self.decrypted += 1
        return self.inner.decrypt_data_key(edks, encryption_context)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def counting(raw_provider: RawAesKeyProvider) -> CountingProvider:
    return CountingProvider(raw_provider)


def _edk(message: bytes) -> bytes:
    return inspect_header(message).encrypted_data_keys[0].ciphertext


def test_many_small_messages_share_one_data_key(counting: CountingProvider) -> None:
    cache = DataKeyCache(max_messages=100)
    messages = [encrypt(b"m%d" % i, provider=counting, cache=cache) for i in range(50)]
    assert counting.generated == 1
    assert cache.hits == 49 and cache.misses == 1
    assert len({_edk(m) for m in messages}) == 1
    assert len({inspect_header(m).message_id for m in messages}) == 50
    for i, message in enumerate(messages):
        assert decrypt(message, provider=counting, cache=cache).plaintext == b"m%d" % i
    assert counting.decrypted == 1
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (49 + 49, 1 + 1)


def test_message_limit(counting: CountingProvider) -> None:
    cache = DataKeyCache(max_messages=3)
    edks = [_edk(encrypt(b"x", provider=counting, cache=cache)) for _ in range(7)]
    assert counting.generated == 3  # messages 1-3, 4-6, 7
    assert edks[0] == edks[2] != edks[3] == edks[5] != edks[6]


def test_byte_limit(counting: CountingProvider) -> None:
    cache = DataKeyCache(max_bytes=100)
    for _ in range(5):
        encrypt(b"x" * 40, provider=counting, cache=cache)  # 40, 80 | 40, 80 | 40
    assert counting.generated == 3
    encrypt(b"x" * 101, provider=counting, cache=cache)  # larger than the limit: bypasses the cache
    encrypt(b"x" * 101, provider=counting, cache=cache)
    assert counting.generated == 5


def test_age_limit_with_injected_clock(counting: CountingProvider) -> None:
    clock = FakeClock()
    cache = DataKeyCache(max_age_seconds=60, clock=clock)
    first = encrypt(b"x", provider=counting, cache=cache)
    clock.now += 59
    assert _edk(encrypt(b"x", provider=counting, cache=cache)) == _edk(first)
    clock.now += 2
    assert _edk(encrypt(b"x", provider=counting, cache=cache)) != _edk(first)
    assert counting.generated == 2
    # decrypt entries age out too
    decrypt(first, provider=counting, cache=cache)
    decrypt(first, provider=counting, cache=cache)
    assert counting.decrypted == 1
    clock.now += 61
    decrypt(first, provider=counting, cache=cache)
    assert counting.decrypted == 2
    assert cache.stats().evictions >= 2


def test_keyed_by_context_suite_and_provider(counting: CountingProvider, wrapping_key: bytes) -> None:
    cache = DataKeyCache()
    encrypt(b"x", provider=counting, cache=cache, encryption_context={"t": "a"})
    encrypt(b"x", provider=counting, cache=cache, encryption_context={"t": "b"})
    encrypt(b"x", provider=counting, cache=cache, encryption_context={"t": "a"}, algorithm=0x0578)
    assert counting.generated == 3
    encrypt(b"x", provider=counting, cache=cache, encryption_context={"t": "a"})
    assert counting.generated == 3
    other = CountingProvider(RawAesKeyProvider("other", "k", wrapping_key))
    encrypt(b"x", provider=other, cache=cache, encryption_context={"t": "a"})
    assert other.generated == 1


def test_signed_suite_cached_materials_still_verify(counting: CountingProvider) -> None:
    cache = DataKeyCache()
    messages = [encrypt(b"s%d" % i, provider=counting, cache=cache, algorithm=0x0578) for i in range(3)]
    assert counting.generated == 1
    assert [decrypt(m, provider=counting).plaintext for m in messages] == [b"s0", b"s1", b"s2"]


def test_capacity_evicts_least_recently_used(counting: CountingProvider) -> None:
    cache = DataKeyCache(capacity=2)
    for tenant in ("a", "b", "c", "a"):
        encrypt(b"x", provider=counting, cache=cache, encryption_context={"t": tenant})
    assert counting.generated == 4  # "a" was evicted by "c"
    assert cache.stats().entries == 2


def test_invalid_limits() -> None:
    for kwargs in ({"max_messages": 0}, {"max_bytes": -1}, {"max_age_seconds": 0}, {"capacity": 0}):
        with pytest.raises(EnvelopeError):
            DataKeyCache(**kwargs)  # type: ignore[arg-type]


def test_repr_shows_counts_not_keys(counting: CountingProvider) -> None:
    cache = DataKeyCache()
    encrypt(b"x", provider=counting, cache=cache)
    text = repr(cache)
    assert "misses=1" in text and "data_key" not in text
