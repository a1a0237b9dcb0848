"""Client-side envelope encryption in the AWS Encryption SDK message format (version 2, key commitment).

Messages written here decrypt with the AWS Encryption SDK and theirs decrypt here, with a KMS key
(:class:`KmsKeyProvider`) or a raw AES-256 key (:class:`RawAesKeyProvider`)::

    provider = KmsKeyProvider(boto3.client("kms"), [key_arn])
    message = encrypt(b"data", provider=provider, encryption_context={"purpose": "demo"})
    plaintext, header = decrypt(message, provider=provider, required_context={"purpose": "demo"})
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kmslab.envelope._format import DEFAULT_FRAME_LENGTH, DEFAULT_MAX_FRAME_LENGTH, EncryptedDataKey, Header
    from kmslab.envelope._suites import COMMIT_KEY, COMMIT_KEY_ECDSA_P384, Suite
    from kmslab.envelope.api import (
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
    from kmslab.envelope.providers import KeyProvider, KmsKeyProvider, RawAesKeyProvider, SectionKeyProvider

#: public name -> the module defining it. Imported on first use, so ``kmslab envelope`` (whose raw-key path
#: needs neither the one-shot API nor the cache) starts fast.
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(("DEFAULT_FRAME_LENGTH", "DEFAULT_MAX_FRAME_LENGTH", "EncryptedDataKey", "Header"), "_format"),
    **dict.fromkeys(("COMMIT_KEY", "COMMIT_KEY_ECDSA_P384", "Suite"), "_suites"),
    **dict.fromkeys(
        ("DecryptResult", "decrypt", "decrypt_stream", "encrypt", "encrypt_stream", "inspect_header"),
        "api",
    ),
    **dict.fromkeys(("CacheStats", "DataKeyCache"), "cache"),
    **dict.fromkeys(
        (
            "AuthenticationError",
            "ContextMismatchError",
            "EnvelopeError",
            "KeyProviderError",
            "MessageFormatError",
            "TruncatedMessageError",
        ),
        "errors",
    ),
    **dict.fromkeys(("KeyProvider", "KmsKeyProvider", "RawAesKeyProvider", "SectionKeyProvider"), "providers"),
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


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
    "SectionKeyProvider",
    "Suite",
    "TruncatedMessageError",
    "decrypt",
    "decrypt_stream",
    "encrypt",
    "encrypt_stream",
    "inspect_header",
]
