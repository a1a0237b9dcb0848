"""Getting a data key for a message: from the key provider, or from a :class:`DataKeyCache`.

The cache holds what this module gives it as opaque values and counts their use itself; this module knows
what the values are (:class:`EncryptMaterials` on the encrypt side, the plaintext data key on the decrypt
side).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from hmac import compare_digest
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslab.envelope import _keys
from kmslab.envelope._context import FrozenContext, prepare_context, serialize_context
from kmslab.envelope._format import VERSION_2, EncryptedDataKey, Header, header_prefix_after_id
from kmslab.envelope._suites import IV_LEN, MESSAGE_ID_LEN, PUBLIC_KEY_CONTEXT_KEY, Suite
from kmslab.envelope.errors import AuthenticationError, ContextMismatchError, KeyProviderError
from kmslab.envelope.providers import KeyProvider

if TYPE_CHECKING:
    from kmslab.envelope.cache import DataKeyCache

ZERO_IV = bytes(IV_LEN)


_VERSION = bytes((VERSION_2,))


@dataclass
class EncryptMaterials:
    """What one or more messages are encrypted with (private to the package; never printed).

    Attributes:
        data_key: the plaintext data key.
        edks: its encrypted copies.
        context: the full encryption context (with the signing public key for a signed suite).
        context_bytes: its serialization.
        signing_key: the signing private key of a signed suite, else None.
        header_middles: frame length -> the header bytes between message ID and commitment (a memo).
    """

    data_key: bytes = field(repr=False)
    edks: tuple[EncryptedDataKey, ...]
    context: dict[str, str]
    context_bytes: bytes
    signing_key: Any = field(default=None, repr=False)
    header_middles: dict[int, bytes] = field(default_factory=dict, repr=False)


#: the start of a message being written: its materials, ID, header bytes, encryption key and key commitment
#: (a plain tuple: built once per message, on the small-message path too)
NewMessage = tuple[EncryptMaterials, bytes, bytes, bytes, bytes]


def encrypt_materials(
    provider: KeyProvider,
    encryption_context: Mapping[str, str] | None,
    suite: Suite,
    cache: DataKeyCache | None,
    plaintext_length: int,
) -> EncryptMaterials:
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
        cached = cache.take_encrypt(cache_key, plaintext_length)
        if isinstance(cached, EncryptMaterials):
            return cached
    signing_key = None
    context: Mapping[str, str] = frozen
    if suite.signed:
        from kmslab.envelope import _signing

        signing_key = _signing.new_signing_key()
        context = FrozenContext({**frozen, PUBLIC_KEY_CONTEXT_KEY: _signing.encode_public_key(signing_key)})
    data_key, edks = provider.generate_data_key(context)
    if not edks or len(edks) > 0xFFFF:
        raise KeyProviderError("the key provider returned no encrypted data key")
    materials = EncryptMaterials(data_key, tuple(edks), dict(context), serialize_context(context), signing_key)
    if cache is not None and cache_key is not None:
        cache.put_encrypt(cache_key, materials, plaintext_length)
    return materials


def header_middle(materials: EncryptMaterials, frame_length: int) -> bytes:
    """Return (and memoize on the materials) the header bytes between the message ID and the commitment."""
    middle = materials.header_middles.get(frame_length)
    if middle is None:
        edk_bytes = b"".join(edk.serialize() for edk in materials.edks)
        middle = header_prefix_after_id(materials.context_bytes, edk_bytes, len(materials.edks), frame_length)
        materials.header_middles[frame_length] = middle
    return middle


def start_message(
    provider: KeyProvider,
    encryption_context: Mapping[str, str] | None,
    suite: Suite,
    cache: DataKeyCache | None,
    plaintext_length: int,
    frame_length: int,
) -> NewMessage:
    """Get the materials for a new framed message, draw its ID and build its header (without the tag).

    Args:
        provider: the key provider.
        encryption_context: the caller's context.
        suite: the algorithm suite.
        cache: an optional data-key cache.
        plaintext_length: the message's size (0 when unknown, as for a stream).
        frame_length: the frame length written in the header.

    Returns:
        The materials, message ID, header bytes, derived encryption key and key commitment.

    Raises:
        ContextMismatchError: a reserved or non-string context entry.
        KeyProviderError: the provider failed or returned no EDKs.
    """
    materials = encrypt_materials(provider, encryption_context, suite, cache, plaintext_length)
    message_id = os.urandom(MESSAGE_ID_LEN)
    key, commitment = _keys.derive_keys(materials.data_key, message_id, suite)
    middle = header_middle(materials, frame_length)
    header = b"".join((_VERSION, suite.id_bytes, message_id, middle, commitment))
    return materials, message_id, header, key, commitment


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
        unwrap_section = getattr(provider, "unwrap_section", None)  # the protocol's optional fast path
        found = None if unwrap_section is None else unwrap_section(header.raw_edks, 0, header.raw_context)
        if found is not None and found[1] == len(header.raw_edks):
            data_key = found[0]
        else:
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
