"""Key providers: who wraps and unwraps the message's data key.

:class:`KmsKeyProvider` uses AWS KMS (or any endpoint speaking its API, such as the local KMS) through a
boto3 client; :class:`RawAesKeyProvider` wraps with a local AES-256 key exactly as the AWS Encryption SDK's
raw AES keyring does, so messages interoperate both ways.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmslab.envelope._context import serialize_context
from kmslab.envelope._format import EncryptedDataKey
from kmslab.envelope._kms_provider import KMS_PROVIDER_ID, KmsArn, KmsKeyProvider
from kmslab.envelope._suites import DATA_KEY_LEN, IV_LEN, TAG_LEN
from kmslab.envelope.errors import KeyProviderError

_WRAPPED_LEN = (DATA_KEY_LEN + TAG_LEN).to_bytes(2, "big")


@runtime_checkable
class KeyProvider(Protocol):
    """What :func:`kmslab.envelope.encrypt` and :func:`kmslab.envelope.decrypt` need from a key provider.

    A provider whose data key always travels as exactly one encrypted data key may also offer the two
    methods of :class:`SectionKeyProvider` (looked up with ``getattr``; optional): the in-memory paths then
    write and read the header's whole EDK section in one step, without building EDK objects.
    """

    @property
    def cache_id(self) -> str:
        """A stable, non-secret identity used to key the data-key cache."""
        ...

    def generate_data_key(self, encryption_context: Mapping[str, str]) -> tuple[bytes, tuple[EncryptedDataKey, ...]]:
        """Return a new 32-byte data key and its encrypted copies, bound to the context."""
        ...

    def decrypt_data_key(
        self, encrypted_data_keys: Sequence[EncryptedDataKey], encryption_context: Mapping[str, str]
    ) -> bytes:
        """Return the plaintext data key from the first copy this provider can decrypt."""
        ...


class SectionKeyProvider(KeyProvider, Protocol):
    """The optional fast path of :class:`KeyProvider`: the header's EDK section in one step."""

    def wrap_section(self, data_key: bytes, context_bytes: bytes, fresh: bytes) -> bytes:
        """Return the header's EDK section (count, then one encrypted data key) for a new data key.

        Args:
            data_key: the plaintext data key.
            context_bytes: the serialized encryption context (bound to the wrapped key).
            fresh: 12 random bytes drawn for this call alone (the caller draws them with its own, so a
                message costs one ``os.urandom`` call); a provider that needs no randomness ignores them.
        """
        ...

    def unwrap_section(self, buffer: bytes, start: int, context_bytes: bytes) -> tuple[bytes, int] | None:
        """Return the data key from the header's EDK section that starts at ``buffer[start]``, and where the
        section ends; or None to fall back on :meth:`decrypt_data_key`.

        Args:
            buffer: the bytes holding the section (a whole message, or the section alone with ``start`` 0).
            start: where the section starts.
            context_bytes: the serialized encryption context.
        """
        ...


@dataclass(frozen=True)
class RawAesKeyProvider:
    """Wraps data keys with a local AES-256 key (AES-GCM, 12-byte IV, AAD = serialized context).

    Args:
        namespace: the provider ID written in the header (the ESDK's provider/namespace).
        name: the key name (the ESDK's key ID).
        wrapping_key: the 32-byte AES key; never shown in a repr.

    Raises:
        KeyProviderError: the key is not 32 bytes or a name is empty.
    """

    namespace: str
    name: str
    wrapping_key: bytes = field(repr=False)
    _aead: AESGCM = field(init=False, repr=False, compare=False)
    _prefix: bytes = field(init=False, repr=False, compare=False)
    _cache_id: str = field(init=False, repr=False, compare=False)
    _edk_head: bytes = field(init=False, repr=False, compare=False)
    _section: struct.Struct = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.wrapping_key, bytes | bytearray) or len(self.wrapping_key) != 32:
            raise KeyProviderError("a raw AES wrapping key must be exactly 32 bytes (AES-256)")
        if not self.namespace or not self.name:
            raise KeyProviderError("a raw AES key needs a non-empty namespace and name")
        if self.namespace.startswith(KMS_PROVIDER_ID):
            raise KeyProviderError(f"the namespace {self.namespace!r} is reserved for AWS KMS")
        object.__setattr__(self, "_aead", AESGCM(bytes(self.wrapping_key)))
        prefix = self.name.encode() + struct.pack(">II", TAG_LEN * 8, IV_LEN)
        object.__setattr__(self, "_prefix", prefix)
        pid = self.namespace.encode()
        if len(pid) > 0xFFFF or len(prefix) + IV_LEN > 0xFFFF:
            raise KeyProviderError("a raw AES key's namespace or name is longer than 65535 bytes")
        head = struct.pack(">HH", 1, len(pid)) + pid + struct.pack(">H", len(prefix) + IV_LEN) + prefix
        object.__setattr__(self, "_edk_head", head)
        object.__setattr__(self, "_section", struct.Struct(f">{len(head)}s{IV_LEN}s2s{DATA_KEY_LEN + TAG_LEN}s"))
        fingerprint = hashes.Hash(hashes.SHA256())
        fingerprint.update(b"kmslab-envelope-raw-aes" + bytes(self.wrapping_key))
        digest = fingerprint.finalize().hex()[:16]
        object.__setattr__(self, "_cache_id", f"raw-aes:{self.namespace}:{self.name}:{digest}")

    @property
    def cache_id(self) -> str:
        """``raw-aes:<namespace>:<name>:<key fingerprint>`` (a SHA-256 prefix, not the key)."""
        return self._cache_id

    def wrap(self, data_key: bytes, context_bytes: bytes) -> EncryptedDataKey:
        """Wrap a data key.

        Args:
            data_key: the plaintext data key.
            context_bytes: the serialized encryption context (the AAD).

        Returns:
            The encrypted data key: key info = name, tag bits, IV length, IV; ciphertext = ciphertext || tag.
        """
        iv = os.urandom(IV_LEN)
        return EncryptedDataKey(self.namespace, self._prefix + iv, self._aead.encrypt(iv, data_key, context_bytes))

    def wrap_section(self, data_key: bytes, context_bytes: bytes, fresh: bytes) -> bytes:
        """Wrap a data key straight into a header's EDK section (one EDK of this key).

        The same bytes as the count and :meth:`wrap`'s serialized EDK, without building the EDK object
        (the in-memory encrypt path's fast path; see :class:`SectionKeyProvider`).

        Args:
            data_key: the plaintext data key.
            context_bytes: the serialized encryption context (the AAD).
            fresh: 12 random bytes, fresh for this call: the wrapping IV (never reuse one under a key).

        Returns:
            The EDK section.

        Raises:
            KeyProviderError: ``fresh`` is not 12 bytes.
        """
        if len(fresh) != IV_LEN:
            raise KeyProviderError("wrap_section needs 12 fresh random bytes for the wrapping IV")
        wrapped = self._aead.encrypt(fresh, data_key, context_bytes)
        return b"".join((self._edk_head, fresh, _WRAPPED_LEN, wrapped))

    def unwrap_section(self, buffer: bytes, start: int, context_bytes: bytes) -> tuple[bytes, int] | None:
        """Unwrap straight from a header's EDK section when it is exactly one EDK of this key.

        The decrypt paths try this before :meth:`decrypt_data_key` (which needs EDK objects); the in-memory
        one passes the whole message, so the section is read in place.

        Args:
            buffer: the bytes holding the section.
            start: where the section starts in ``buffer``.
            context_bytes: the serialized encryption context (the AAD).

        Returns:
            ``(data key, end of the section)``, or None when the section has another shape or does not
            authenticate (the caller then asks :meth:`decrypt_data_key`, which reports why).
        """
        layout = self._section
        end = start + layout.size
        if end > len(buffer) or not buffer.startswith(self._edk_head, start):
            return None
        _, iv, wrapped_len, wrapped = layout.unpack_from(buffer, start)
        if wrapped_len != _WRAPPED_LEN:
            return None
        try:
            return self._aead.decrypt(iv, wrapped, context_bytes), end
        except InvalidTag:
            return None

    def generate_data_key(self, encryption_context: Mapping[str, str]) -> tuple[bytes, tuple[EncryptedDataKey, ...]]:
        """Return a random data key wrapped under this key.

        Args:
            encryption_context: the message's full context (bound as AAD).

        Returns:
            ``(data_key, (edk,))``.
        """
        data_key = os.urandom(DATA_KEY_LEN)
        return data_key, (self.wrap(data_key, serialize_context(encryption_context)),)

    def decrypt_data_key(
        self, encrypted_data_keys: Sequence[EncryptedDataKey], encryption_context: Mapping[str, str]
    ) -> bytes:
        """Unwrap the first EDK that names this key and authenticates.

        Args:
            encrypted_data_keys: the message's EDKs.
            encryption_context: the message's context.

        Returns:
            The data key.

        Raises:
            KeyProviderError: no EDK names this key, or none authenticates under it.
        """
        aad = serialize_context(encryption_context)
        tried = 0
        want = len(self._prefix) + IV_LEN
        for edk in encrypted_data_keys:
            if edk.provider_id != self.namespace or len(edk.key_info) != want:
                continue
            if not edk.key_info.startswith(self._prefix):
                continue
            tried += 1
            try:
                data_key = self._aead.decrypt(edk.key_info[-IV_LEN:], edk.ciphertext, aad)
            except InvalidTag:
                continue
            if len(data_key) == DATA_KEY_LEN:
                return data_key
        if tried:
            raise KeyProviderError(
                f"raw AES key {self.namespace}/{self.name} could not decrypt the data key "
                "(wrong wrapping key, or the encryption context or the key was altered)"
            )
        raise KeyProviderError(f"the message has no data key wrapped by raw AES key {self.namespace}/{self.name}")


__all__ = [
    "KMS_PROVIDER_ID",
    "KeyProvider",
    "KmsArn",
    "KmsKeyProvider",
    "RawAesKeyProvider",
    "SectionKeyProvider",
]
