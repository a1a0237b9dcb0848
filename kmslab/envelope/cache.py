"""A data-key cache: reuse one data key for many small messages (or one unwrap for many decrypts).

Entries are keyed by provider identity + algorithm suite + encryption context (encrypt side) or by the
message's exact encrypted data keys + context (decrypt side). An encrypt entry is retired once it has
protected ``max_messages`` messages or ``max_bytes`` bytes, or is ``max_age_seconds`` old; at most
``capacity`` entries are kept (least recently used first out).

The cache owns its entries: each wraps the stored value with the cache's own bookkeeping (creation time,
messages and bytes counted against it). The values themselves are opaque here: whatever the encrypt side
stores (its materials) or the decrypt side stores (a data key) comes back unchanged, and the cache never
looks inside, so it depends on nothing else in the package.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kmslab.envelope.errors import EnvelopeError


@dataclass(frozen=True)
class CacheStats:
    """Counters of a :class:`DataKeyCache`.

    Attributes:
        hits: lookups served from the cache.
        misses: lookups that had to call the key provider.
        entries: entries currently held.
        evictions: entries dropped for age, use limits or capacity.
    """

    hits: int
    misses: int
    entries: int
    evictions: int


@dataclass
class _Entry:
    """One cached value with the cache's bookkeeping (the value, key material, is never shown)."""

    value: Any = field(repr=False)
    created: float
    messages: int = 0
    bytes_used: int = 0


class DataKeyCache:
    """An in-memory LRU cache of data keys with per-key usage limits.

    Args:
        max_messages: messages one data key may encrypt (1 to 2**32).
        max_bytes: plaintext bytes one data key may encrypt; a message larger than this bypasses the cache.
        max_age_seconds: seconds an entry (encrypt or decrypt) may live.
        capacity: entries kept at most.
        clock: a monotonic clock in seconds (injectable for tests).

    Raises:
        EnvelopeError: a limit is out of range.
    """

    def __init__(
        self,
        *,
        max_messages: int = 1000,
        max_bytes: int = 2**63 - 1,
        max_age_seconds: float = 300.0,
        capacity: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= max_messages <= 2**32:
            raise EnvelopeError("max_messages must be between 1 and 2**32")
        if not 0 <= max_bytes <= 2**63 - 1:
            raise EnvelopeError("max_bytes must be between 0 and 2**63 - 1")
        if not max_age_seconds > 0:
            raise EnvelopeError("max_age_seconds must be positive")
        if capacity < 1:
            raise EnvelopeError("capacity must be at least 1")
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.max_age_seconds = float(max_age_seconds)
        self.capacity = capacity
        self._clock = clock
        self._entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._evictions = 0

    def __repr__(self) -> str:
        s = self.stats()
        return f"DataKeyCache(entries={s.entries}, hits={s.hits}, misses={s.misses})"

    @property
    def hits(self) -> int:
        """Lookups served from the cache."""
        return self._hits

    @property
    def misses(self) -> int:
        """Lookups that missed."""
        return self._misses

    def stats(self) -> CacheStats:
        """Return the counters."""
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._entries), self._evictions)

    def clear(self) -> None:
        """Drop every entry (counters are kept)."""
        with self._lock:
            self._entries.clear()

    def _put(self, key: tuple[Any, ...], entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
            self._evictions += 1

    def take_encrypt(self, key: tuple[Any, ...], plaintext_length: int) -> object | None:
        """Return the encrypt value stored under ``key`` if still usable, counting one message against it.

        Args:
            key: ``("enc", provider cache id, suite id, serialized context)``.
            plaintext_length: the message's plaintext size.

        Returns:
            The value given to :meth:`put_encrypt`, or None on a miss (the caller then calls :meth:`put_encrypt`).
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                if (
                    self._clock() - entry.created < self.max_age_seconds
                    and entry.messages < self.max_messages
                    and entry.bytes_used + plaintext_length <= self.max_bytes
                ):
                    entry.messages += 1
                    entry.bytes_used += plaintext_length
                    self._entries.move_to_end(key)
                    self._hits += 1
                    value: object = entry.value
                    return value
                del self._entries[key]
                self._evictions += 1
            self._misses += 1
            return None

    def put_encrypt(self, key: tuple[Any, ...], value: object, plaintext_length: int) -> bool:
        """Store fresh encrypt materials (an opaque value), counting the message that created them.

        Args:
            key: as for :meth:`take_encrypt`.
            value: what :meth:`take_encrypt` returns while the entry lasts.
            plaintext_length: the first message's size.

        Returns:
            Whether the value was stored (not when one message already exceeds ``max_bytes``).
        """
        if plaintext_length > self.max_bytes:
            return False
        with self._lock:
            self._put(key, _Entry(value, self._clock(), 1, plaintext_length))
        return True

    def get_decrypt(self, key: tuple[Any, ...]) -> bytes | None:
        """Return the data key cached for these EDKs and context, if fresh.

        Args:
            key: ``("dec", provider cache id, suite id, serialized EDKs, serialized context)``.

        Returns:
            The data key, or None on a miss.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                if self._clock() - entry.created < self.max_age_seconds:
                    self._entries.move_to_end(key)
                    self._hits += 1
                    data_key: bytes = entry.value
                    return data_key
                del self._entries[key]
                self._evictions += 1
            self._misses += 1
            return None

    def put_decrypt(self, key: tuple[Any, ...], data_key: bytes) -> None:
        """Remember an unwrapped data key for these EDKs and context."""
        with self._lock:
            self._put(key, _Entry(data_key, self._clock()))
