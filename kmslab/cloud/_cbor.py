"""The little CBOR the gateway writes: a map of text keys to text values (smithy RPC v2 errors)."""

from __future__ import annotations


def _head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    if length < 256:
        return bytes([major << 5 | 24, length])
    if length < 65536:
        return bytes([major << 5 | 25]) + length.to_bytes(2, "big")
    return bytes([major << 5 | 26]) + length.to_bytes(4, "big")


def encode_map(values: dict[str, str]) -> bytes:
    """Encode a flat map of strings as CBOR.

    Args:
        values: text keys and text values.

    Returns:
        The CBOR bytes.
    """
    out = bytearray(_head(5, len(values)))
    for key, value in values.items():
        for text in (key, value):
            raw = text.encode()
            out += _head(3, len(raw)) + raw
    return bytes(out)
