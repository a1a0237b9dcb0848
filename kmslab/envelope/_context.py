"""The encryption context: validation, its canonical serialization (the header's AAD field) and parsing.

Private to the package. Many messages share a context, so both directions are memoized (bounded memos,
cleared when full): a caller's pairs map to their validated, serialized form, and a header's serialized
context maps to its parsed read-only mapping.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from typing import Any

from kmslab.envelope._suites import RESERVED_CONTEXT_PREFIX
from kmslab.envelope.errors import ContextMismatchError, MessageFormatError

_U16_MAX = 0xFFFF
_MEMO_SIZE = 64


class FrozenContext(Mapping[str, str]):
    """A read-only encryption context that remembers its serialized form (so it is never re-serialized).

    Args:
        pairs: the context.
        serialized: its serialization, when already known.
    """

    __slots__ = ("_pairs", "serialized")

    def __init__(self, pairs: Mapping[str, str], serialized: bytes | None = None) -> None:
        self._pairs = dict(pairs)
        self.serialized = serialize_context(self._pairs) if serialized is None else serialized

    def __getitem__(self, key: str) -> str:
        return self._pairs[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __contains__(self, key: object) -> bool:
        return key in self._pairs

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value for ``key``, or ``default``."""
        return self._pairs.get(key, default)

    def __repr__(self) -> str:
        return repr(self._pairs)


def validate_context(context: Mapping[str, str] | None) -> dict[str, str]:
    """Return a plain copy of an encryption context after checking its types.

    Args:
        context: the mapping of strings to strings, or None for an empty context.

    Returns:
        A new dict.

    Raises:
        ContextMismatchError: a key or value is not a string.
    """
    if not context:
        return {}
    out: dict[str, str] = {}
    for key, value in context.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ContextMismatchError("encryption context keys and values must be strings")
        out[key] = value
    return out


def serialize_context(context: Mapping[str, str]) -> bytes:
    """Serialize an encryption context: count, then pairs sorted by key bytes; empty context -> no bytes.

    Args:
        context: the encryption context.

    Returns:
        The serialized bytes (the header's AAD field, without its length).

    Raises:
        ContextMismatchError: a key or value cannot be encoded, or the result is too large.
    """
    if type(context) is FrozenContext:
        return context.serialized
    if not context:
        return b""
    try:
        pairs = sorted((k.encode("utf-8"), v.encode("utf-8")) for k, v in context.items())
    except (UnicodeEncodeError, AttributeError):
        raise ContextMismatchError("encryption context keys and values must be valid UTF-8 strings") from None
    parts = [len(pairs).to_bytes(2, "big")]
    for key, value in pairs:
        if len(key) > _U16_MAX or len(value) > _U16_MAX:
            raise ContextMismatchError("an encryption context key or value is longer than 65535 bytes")
        parts += (len(key).to_bytes(2, "big"), key, len(value).to_bytes(2, "big"), value)
    out = b"".join(parts)
    if len(out) > _U16_MAX:
        raise ContextMismatchError("the serialized encryption context is longer than 65535 bytes")
    return out


def parse_context(data: bytes) -> dict[str, str]:
    """Parse a serialized encryption context (the inverse of :func:`serialize_context`).

    Args:
        data: the header's AAD field.

    Returns:
        The encryption context.

    Raises:
        MessageFormatError: malformed, duplicate keys, or not UTF-8.
    """
    if not data:
        return {}
    view = memoryview(data)
    try:
        (count,) = struct.unpack_from(">H", view, 0)
        pos = 2
        out: dict[str, str] = {}
        for _ in range(count):
            (klen,) = struct.unpack_from(">H", view, pos)
            key = bytes(view[pos + 2 : pos + 2 + klen])
            pos += 2 + klen
            (vlen,) = struct.unpack_from(">H", view, pos)
            value = bytes(view[pos + 2 : pos + 2 + vlen])
            pos += 2 + vlen
            if len(key) != klen or len(value) != vlen:
                raise MessageFormatError("malformed encryption context")
            skey = key.decode("utf-8")
            if skey in out:
                raise MessageFormatError(f"duplicate encryption context key {skey!r}")
            out[skey] = value.decode("utf-8")
    except struct.error:
        raise MessageFormatError("malformed encryption context") from None
    except UnicodeDecodeError:
        raise MessageFormatError("encryption context is not valid UTF-8") from None
    if count == 0 or pos != len(data):
        raise MessageFormatError("malformed encryption context")
    return out


#: the caller's context as a tuple of pairs -> its validated, serialized frozen form
_PREPARED: dict[tuple[tuple[Any, Any], ...], FrozenContext] = {}
#: a header's serialized context -> the parsed read-only mapping
_PARSED: dict[bytes, Mapping[str, str]] = {}
EMPTY_CONTEXT = FrozenContext({}, b"")
#: ``cached_context(raw)``: the parsed context memoized for these serialized bytes, or None (no Python frame:
#: the one-pass decrypt tries it before :func:`context_for`)
cached_context = _PARSED.get


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
        return EMPTY_CONTEXT
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
        if len(_PREPARED) >= _MEMO_SIZE:
            _PREPARED.clear()
        _PREPARED[pairs] = frozen
    return frozen


def context_for(raw_context: bytes) -> Mapping[str, str]:
    """Return the parsed, read-only context for these serialized bytes (memoized: many messages share one).

    Args:
        raw_context: the header's context field.

    Returns:
        The context.

    Raises:
        MessageFormatError: the bytes are not a valid serialized context.
    """
    context = _PARSED.get(raw_context)
    if context is None:
        context = FrozenContext(parse_context(raw_context), raw_context)
        if len(_PARSED) >= _MEMO_SIZE:
            _PARSED.clear()
        _PARSED[raw_context] = context
    return context
