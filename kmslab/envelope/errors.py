"""Errors of the envelope package: one root, :class:`EnvelopeError`, with a named subclass per failure kind."""

from __future__ import annotations

from kmslab.errors import KmslabError


class EnvelopeError(KmslabError):
    """Root of every error ``kmslab.envelope`` raises on purpose."""


class MessageFormatError(EnvelopeError):
    """The bytes are not a well-formed message we support (bad field, unsupported suite, truncated, trailing data)."""


class TruncatedMessageError(MessageFormatError):
    """The message ended before a field it announced was complete."""


class AuthenticationError(EnvelopeError):
    """A tag, the key commitment or the signature did not verify: the message was altered or the key is wrong."""


class ContextMismatchError(EnvelopeError):
    """The encryption context is invalid, or lacks or contradicts a pair the caller required."""


class KeyProviderError(EnvelopeError):
    """No key provider could produce or decrypt a data key (no matching key, KMS refused, wrong wrapping key)."""
