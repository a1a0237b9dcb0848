"""Getting a data key for a message: from the key provider, or from a :class:`DataKeyCache`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from hmac import compare_digest
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslab.envelope import _keys
from kmslab.envelope._format import (
    EncryptedDataKey,
    FrozenContext,
    Header,
    header_prefix_after_id,
    serialize_context,
    validate_context,
)
from kmslab.envelope._suites import (
    IV_LEN,
    PUBLIC_KEY_CONTEXT_KEY,
    RESERVED_CONTEXT_PREFIX,
    Suite,
)
from kmslab.envelope.errors import AuthenticationError, ContextMismatchError, KeyProviderError
from kmslab.envelope.providers import KeyProvider, RawAesKeyProvider

if TYPE_CHECKING:
    from kmslab.envelope.cache import DataKeyCache

ZERO_IV = bytes(IV_LEN)


@dataclass
class EncryptEntry:
    """Materials cached for encryption (private to the package; never printed)."""

    data_key: bytes = field(repr=False)
    edks: tuple[EncryptedDataKey, ...]
    context: dict[str, str]
    context_bytes: bytes
    signing_key: Any = field(default=None, repr=False)
    created: float = 0.0
    messages: int = 0
    bytes_used: int = 0
    header_middles: dict[int, bytes] = field(default_factory=dict, repr=False)


#: the caller's context as a tuple of pairs -> its validated, serialized frozen form (bounded; cleared when full)
_PREPARED: dict[tuple[tuple[Any, Any], ...], FrozenContext] = {}
_PREPARED_SIZE = 64
_EMPTY_CONTEXT = FrozenContext({}, b"")


def prepare_context(encryption_context: Mapping[str, str] | None) -> FrozenContext:
    """Validate and serialize a caller's encryption context once; repeat calls with equal pairs hit a memo.

    Args:
        encryption_context: the caller's context (``aws-crypto-`` keys are reserved).

    Returns:
        A read-only context carrying its serialization.

    Raises:
        ContextMismatchError: a reserved, non-string or oversized entry.
    """
    if not encryption_context:
        return _EMPTY_CONTEXT
    try:
        pairs = tuple(encryption_context.items())
        found = _PREPARED.get(pairs)
    except TypeError:  # an unhashable value: validation below names the problem
        pairs, found = (), None
    if found is not None:
        return found
    context = validate_context(encryption_context)
    for key in context:
        if key.startswith(RESERVED_CONTEXT_PREFIX):
            raise ContextMismatchError(f"encryption context key {key!r} uses the reserved prefix 'aws-crypto-'")
    frozen = FrozenContext(context)
    if pairs and all(type(k) is str and type(v) is str for k, v in pairs):
        if len(_PREPARED) >= _PREPARED_SIZE:
            _PREPARED.clear()
        _PREPARED[pairs] = frozen
    return frozen


def encrypt_materials(
    provider: KeyProvider,
    encryption_context: Mapping[str, str] | None,
    suite: Suite,
    cache: DataKeyCache | None,
    plaintext_length: int,
) -> EncryptEntry:
    """Return the data key, EDKs and full context for one message.

    Args:
        provider: the key provider.
        encryption_context: the caller's context (``aws-crypto-`` keys are reserved).
        suite: the algorithm suite.
        cache: an optional data-key cache.
        plaintext_length: the message's size, counted against the cache's byte limit.

    Returns:
        The materials (shared with the cache: do not mutate).

    Raises:
        ContextMismatchError: a reserved or non-string context entry.
        KeyProviderError: the provider failed or returned no EDKs.
    """
    frozen = prepare_context(encryption_context)
    cache_key = None
    if cache is not None:
        cache_key = ("enc", provider.cache_id, suite.suite_id, frozen.serialized)
        entry = cache.take_encrypt(cache_key, plaintext_length)
        if entry is not None:
            return entry
    signing_key = None
    context: Mapping[str, str] = frozen
    if suite.signed:
        from kmslab.envelope import _signing

        signing_key = _signing.new_signing_key()
        context = FrozenContext({**frozen, PUBLIC_KEY_CONTEXT_KEY: _signing.encode_public_key(signing_key)})
    data_key, edks = provider.generate_data_key(context)
    if not edks or len(edks) > 0xFFFF:
        raise KeyProviderError("the key provider returned no encrypted data key")
    entry = EncryptEntry(data_key, tuple(edks), dict(context), serialize_context(context), signing_key)
    if cache is not None and cache_key is not None:
        cache.put_encrypt(cache_key, entry, plaintext_length)
    return entry


def header_middle(entry: EncryptEntry, frame_length: int) -> bytes:
    """Return (and memoize on the entry) the header bytes between the message ID and the commitment."""
    middle = entry.header_middles.get(frame_length)
    if middle is None:
        edk_bytes = b"".join(edk.serialize() for edk in entry.edks)
        middle = header_prefix_after_id(entry.context_bytes, edk_bytes, len(entry.edks), frame_length)
        entry.header_middles[frame_length] = middle
    return middle


def check_required_context(header: Header, required_context: Mapping[str, str] | None) -> None:
    """Refuse a message whose context lacks or contradicts a required pair.

    Args:
        header: the parsed header.
        required_context: pairs the caller requires.

    Raises:
        ContextMismatchError: a pair is missing or different.
    """
    if not required_context:
        return
    context = header.encryption_context
    for key, value in required_context.items():
        if key not in context:
            raise ContextMismatchError(f"the message's encryption context has no key {key!r}")
        if context[key] != value:
            raise ContextMismatchError(f"the message's encryption context value for {key!r} does not match")


def open_header(
    header: Header,
    header_tag: bytes,
    provider: KeyProvider,
    required_context: Mapping[str, str] | None,
    cache: DataKeyCache | None,
) -> tuple[bytes, AESGCM]:
    """Check the context, get the data key, verify the key commitment and the header tag.

    Args:
        header: the parsed header.
        header_tag: the 16-byte header authentication tag.
        provider: the key provider.
        required_context: pairs the caller requires.
        cache: an optional data-key cache.

    Returns:
        The message's derived encryption key, and an AES-GCM object keyed with it.

    Raises:
        ContextMismatchError: a required pair is missing or different.
        KeyProviderError: no data key could be decrypted.
        AuthenticationError: the commitment or the header tag does not verify.
    """
    if required_context:
        check_required_context(header, required_context)
    suite = header.suite
    data_key = None
    cache_key = None
    if cache is not None:
        cache_key = ("dec", provider.cache_id, suite.suite_id, header.raw_edks, header.raw_context)
        data_key = cache.get_decrypt(cache_key)
    if data_key is None:
        if type(provider) is RawAesKeyProvider:
            data_key = provider.unwrap_section(header.raw_edks, header.raw_context)
        if data_key is None:
            data_key = provider.decrypt_data_key(header.encrypted_data_keys, header.encryption_context)
        if cache is not None and cache_key is not None:
            cache.put_decrypt(cache_key, data_key)
    key, commitment = _keys.derive_keys(data_key, header.message_id, suite)
    if not compare_digest(commitment, header.commitment):  # constant time
        raise AuthenticationError("key commitment does not match: the data key is not the one this message commits to")
    aead = AESGCM(key)
    try:
        aead.decrypt(ZERO_IV, header_tag, header.raw)
    except InvalidTag:
        raise AuthenticationError("the header authentication tag does not verify: the header was altered") from None
    return key, aead
