"""Client-side envelope encryption in the AWS Encryption SDK message format (version 2, key commitment).

Messages written here decrypt with the AWS Encryption SDK and theirs decrypt here, with a KMS key
(:class:`KmsKeyProvider`) or a raw AES-256 key (:class:`RawAesKeyProvider`)::

    provider = KmsKeyProvider(boto3.client("kms"), [key_arn])
    message = encrypt(b"data", provider=provider, encryption_context={"purpose": "demo"})
    plaintext, header = decrypt(message, provider=provider, required_context={"purpose": "demo"})
"""

from __future__ import annotations

from kmslab.envelope._format import EncryptedDataKey, Header
from kmslab.envelope._suites import COMMIT_KEY, COMMIT_KEY_ECDSA_P384, Suite
from kmslab.envelope.api import (
    DEFAULT_FRAME_LENGTH,
    DEFAULT_MAX_FRAME_LENGTH,
    DecryptResult,
    decrypt,
    decrypt_stream,
    encrypt,
    encrypt_stream,
    inspect_header,
)
from kmslab.envelope.cache import CacheStats, DataKeyCache
from kmslab.envelope.errors import (
    AuthenticationError,
    ContextMismatchError,
    EnvelopeError,
    KeyProviderError,
    MessageFormatError,
    TruncatedMessageError,
)
from kmslab.envelope.providers import KeyProvider, KmsKeyProvider, RawAesKeyProvider

__all__ = [
    "COMMIT_KEY",
    "COMMIT_KEY_ECDSA_P384",
    "DEFAULT_FRAME_LENGTH",
    "DEFAULT_MAX_FRAME_LENGTH",
    "AuthenticationError",
    "CacheStats",
    "ContextMismatchError",
    "DataKeyCache",
    "DecryptResult",
    "EncryptedDataKey",
    "EnvelopeError",
    "Header",
    "KeyProvider",
    "KeyProviderError",
    "KmsKeyProvider",
    "MessageFormatError",
    "RawAesKeyProvider",
    "Suite",
    "TruncatedMessageError",
    "decrypt",
    "decrypt_stream",
    "encrypt",
    "encrypt_stream",
    "inspect_header",
]
