"""Request validation driven by botocore's KMS service model.

Each operation's input shape is compiled once into a checker that walks a wire-shaped
request (blobs as base64 text, timestamps as epoch seconds), collects AWS-worded
constraint violations, and returns the request with blobs decoded to ``bytes`` and
timestamps turned into UTC datetimes.
"""

from __future__ import annotations

import binascii
import functools
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.loaders import Loader

from kmslab.kms.errors import SerializationException, ValidationException

_Checker = Callable[[Any, str, list[str]], Any]

# A JSON "\ud800" escape decodes to a lone surrogate in Python: text that is not valid UTF-16 and
# cannot be encoded to UTF-8. AWS answers such a string with a 400 ValidationException; left in, it
# would break the ciphertext's encryption-context encoding (UnicodeEncodeError, a 500) and the
# CloudTrail file (DuckDB refuses the escape).
_SURROGATE = re.compile("[\ud800-\udfff]")
_INVALID_UTF16 = "Member must be valid UTF-16 text (it holds an unpaired surrogate)"
# The ciphertext's encryption-context encoding has 2-byte lengths (as the AWS Encryption SDK's
# format does): at most 65,535 pairs, and 65,535 UTF-8 bytes per key or value.
_MAX_CONTEXT_ITEM_BYTES = 0xFFFF
_MAX_CONTEXT_PAIRS = 0xFFFF

# Members the model leaves optional (for features the local KMS lacks) but a request cannot do without.
_ALSO_REQUIRED: dict[str, tuple[str, ...]] = {
    "Decrypt": ("CiphertextBlob",),
    "ReEncrypt": ("CiphertextBlob",),
}


@functools.cache
def service_model() -> dict[str, Any]:
    """Return botocore's KMS service model (loaded once).

    Returns:
        The parsed ``service-2`` document.
    """
    model: dict[str, Any] = Loader().load_service_model("kms", "service-2")
    return model


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _show(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int | float):
        text = str(value)
    else:
        try:
            text = json.dumps(value, separators=(",", ":"))
        except (RecursionError, TypeError, ValueError):
            text = type(value).__name__
    if len(text) > 256:
        text = text[:256] + "..."
    return f"'{text}'"


def has_lone_surrogate(text: str) -> bool:
    """Tell whether a string holds an unpaired surrogate (so it is not valid UTF-16 or UTF-8).

    Args:
        text: the string.

    Returns:
        True when the string cannot be encoded to UTF-8.
    """
    return not text.isascii() and _SURROGATE.search(text) is not None


def _printable(text: str) -> str:
    """Return ``text`` fit to quote in a message: unpaired surrogates become U+FFFD."""
    return _SURROGATE.sub("\ufffd", text) if has_lone_surrogate(text) else text


def _string_checker(shape: dict[str, Any]) -> _Checker:
    enum = shape.get("enum")
    lo, hi = shape.get("min"), shape.get("max")
    pattern = re.compile(shape["pattern"]) if "pattern" in shape else None

    def check(value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, str):
            errors.append(f"Value {_show(value)} at '{path}' failed to satisfy constraint: Member must be a string")
            return value
        if not value.isascii() and _SURROGATE.search(value) is not None:
            errors.append(f"Value at '{path}' failed to satisfy constraint: {_INVALID_UTF16}")
            return value
        if enum is not None and value not in enum:
            allowed = ", ".join(enum)
            errors.append(
                f"Value {_show(value)} at '{path}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{allowed}]"
            )
        if lo is not None and len(value) < lo:
            errors.append(
                f"Value {_show(value)} at '{path}' failed to satisfy constraint: "
                f"Member must have length greater than or equal to {lo}"
            )
        if hi is not None and len(value) > hi:
            errors.append(
                f"Value {_show(value)} at '{path}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {hi}"
            )
        if pattern is not None and value and not pattern.fullmatch(value):
            errors.append(
                f"Value {_show(value)} at '{path}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {shape['pattern']}"
            )
        return value

    return check


def _blob_checker(shape: dict[str, Any]) -> _Checker:
    lo, hi = shape.get("min"), shape.get("max")

    def check(value: Any, path: str, errors: list[str]) -> Any:
        if isinstance(value, bytes | bytearray):
            raw = bytes(value)
        elif isinstance(value, str):
            try:
                raw = binascii.a2b_base64(value, strict_mode=True)  # what base64.b64decode(validate=True) does
            except (binascii.Error, ValueError):
                raise SerializationException(f"Value at '{path}' is not a valid base64-encoded binary value") from None
        else:
            errors.append(f"Value at '{path}' failed to satisfy constraint: Member must be a base64-encoded string")
            return value
        if lo is not None and len(raw) < lo:
            errors.append(
                f"Value at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {lo}"
            )
        if hi is not None and len(raw) > hi:
            errors.append(
                f"Value at '{path}' failed to satisfy constraint: Member must have length less than or equal to {hi}"
            )
        return raw

    return check


def _integer_checker(shape: dict[str, Any]) -> _Checker:
    lo, hi = shape.get("min"), shape.get("max")

    def check(value: Any, path: str, errors: list[str]) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                errors.append(
                    f"Value {_show(value)} at '{path}' failed to satisfy constraint: Member must be an integer"
                )
                return value
        if lo is not None and value < lo:
            errors.append(
                f"Value {_show(value)} at '{path}' failed to satisfy constraint: "
                f"Member must have value greater than or equal to {lo}"
            )
        if hi is not None and value > hi:
            errors.append(
                f"Value {_show(value)} at '{path}' failed to satisfy constraint: "
                f"Member must have value less than or equal to {hi}"
            )
        return value

    return check


def _boolean_checker(shape: dict[str, Any]) -> _Checker:
    def check(value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, bool):
            errors.append(f"Value {_show(value)} at '{path}' failed to satisfy constraint: Member must be a boolean")
        return value

    return check


def _timestamp_checker(shape: dict[str, Any]) -> _Checker:
    def check(value: Any, path: str, errors: list[str]) -> Any:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return datetime.fromtimestamp(value, UTC)
            except (OverflowError, OSError, ValueError):
                pass
        elif isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            except ValueError:
                pass
        errors.append(f"Value {_show(value)} at '{path}' failed to satisfy constraint: Member must be a timestamp")
        return value

    return check


def _list_checker(shape: dict[str, Any], shapes: dict[str, Any]) -> _Checker:
    member = _compile(shape["member"]["shape"], shapes)
    lo, hi = shape.get("min"), shape.get("max")

    def check(value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, list):
            errors.append(f"Value {_show(value)} at '{path}' failed to satisfy constraint: Member must be a list")
            return value
        if lo is not None and len(value) < lo:
            errors.append(
                f"Value at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {lo}"
            )
        if hi is not None and len(value) > hi:
            errors.append(
                f"Value at '{path}' failed to satisfy constraint: Member must have length less than or equal to {hi}"
            )
        return [member(item, f"{path}.{i + 1}.member", errors) for i, item in enumerate(value)]

    return check


def _map_checker(shape: dict[str, Any], shapes: dict[str, Any]) -> _Checker:
    key = _compile(shape["key"]["shape"], shapes)
    val = _compile(shape["value"]["shape"], shapes)

    def check(value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, dict):
            errors.append(f"Value at '{path}' failed to satisfy constraint: Member must be a map")
            return value
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if v is None:
                shown = _printable(k) if isinstance(k, str) else k
                errors.append(f"Value null at '{path}.{shown}' failed to satisfy constraint: Member must not be null")
                continue
            out[key(k, path, errors)] = val(v, f"{path}.{_printable(k) if isinstance(k, str) else k}", errors)
        return out

    return check


def _encryption_context_checker() -> _Checker:
    """An encryption context: a map of strings that are valid UTF-16 and fit the ciphertext's 2-byte lengths.

    One pass over the pairs (the hot path of every cryptographic call): the model gives the key and
    value shapes no constraints beyond being strings.
    """
    limit = _MAX_CONTEXT_ITEM_BYTES

    def item_error(text: Any, where: str, errors: list[str]) -> None:
        if type(text) is not str:
            errors.append(f"Value {_show(text)} at '{where}' failed to satisfy constraint: Member must be a string")
        elif not text.isascii() and _SURROGATE.search(text) is not None:
            errors.append(f"Value at '{where}' failed to satisfy constraint: {_INVALID_UTF16}")
        elif len(text) * 4 > limit and len(text.encode()) > limit:  # len * 4 bounds the UTF-8 size
            errors.append(
                f"Value at '{where}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {limit} bytes in UTF-8"
            )

    def check(value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, dict):
            errors.append(f"Value at '{path}' failed to satisfy constraint: Member must be a map")
            return value
        if len(value) > _MAX_CONTEXT_PAIRS:
            errors.append(
                f"Value at '{path}' failed to satisfy constraint: Member must have at most {_MAX_CONTEXT_PAIRS} pairs"
            )
        for k, v in value.items():
            key_ok = type(k) is str and k.isascii() and len(k) <= limit // 4
            if not key_ok:
                item_error(k, path, errors)
            shown = (_printable(k) if isinstance(k, str) else k) if not key_ok else k
            if v is None:
                errors.append(f"Value null at '{path}.{shown}' failed to satisfy constraint: Member must not be null")
            elif not (type(v) is str and v.isascii() and len(v) <= limit // 4):
                item_error(v, f"{path}.{shown}", errors)
        return dict(value)  # a copy, as every other checker returns: operations never alias the raw request

    return check


def _structure_checker(shape: dict[str, Any], shapes: dict[str, Any]) -> _Checker:
    members = {name: (_camel(name), _compile(spec["shape"], shapes)) for name, spec in shape["members"].items()}
    required = tuple(shape.get("required", ()))

    def check(value: Any, path: str, errors: list[str]) -> Any:
        if not isinstance(value, dict):
            errors.append(f"Value at '{path or 'request'}' failed to satisfy constraint: Member must be a structure")
            return value
        out: dict[str, Any] = {}
        prefix = f"{path}." if path else ""
        for name in required:
            if value.get(name) is None:
                errors.append(
                    f"Value null at '{prefix}{_camel(name)}' failed to satisfy constraint: Member must not be null"
                )
        for name, item in value.items():
            spec = members.get(name)
            if spec is None or item is None:
                continue  # AWS ignores members it does not know
            out[name] = spec[1](item, prefix + spec[0], errors)
        return out

    return check


def _compile(shape_name: str, shapes: dict[str, Any]) -> _Checker:
    shape = shapes[shape_name]
    kind = shape["type"]
    if kind == "structure":
        return _structure_checker(shape, shapes)
    if kind == "list":
        return _list_checker(shape, shapes)
    if kind == "map":
        if shape_name == "EncryptionContextType":
            return _encryption_context_checker()
        return _map_checker(shape, shapes)
    if kind == "string":
        return _string_checker(shape)
    if kind == "blob":
        return _blob_checker(shape)
    if kind in ("integer", "long"):
        return _integer_checker(shape)
    if kind == "boolean":
        return _boolean_checker(shape)
    if kind == "timestamp":
        return _timestamp_checker(shape)
    raise ValueError(f"unsupported shape type {kind}")  # pragma: no cover - the KMS model has no others


@functools.cache
def request_checker(operation: str) -> _Checker:
    """Return the compiled input checker of one operation.

    Args:
        operation: a KMS operation name present in the model.

    Returns:
        A function ``(value, path, errors) -> converted value``.
    """
    model = service_model()
    return _compile(model["operations"][operation]["input"]["shape"], model["shapes"])


def validation_error(errors: list[str]) -> ValidationException:
    """Build AWS's ValidationException from a list of constraint violations.

    Args:
        errors: the violations, in the order found.

    Returns:
        The exception, worded as AWS words it.
    """
    count = len(errors)
    noun = "error" if count == 1 else "errors"
    return ValidationException(f"{count} validation {noun} detected: " + "; ".join(errors))


def parse_request(operation: str, params: Any) -> dict[str, Any]:
    """Validate a wire-shaped request and convert it to Python values.

    Args:
        operation: the KMS operation.
        params: the request parameters as received.

    Returns:
        The parameters with blobs as bytes and timestamps as UTC datetimes.

    Raises:
        ValidationException: a parameter breaks the model's constraints.
        SerializationException: a blob is not valid base64.
    """
    if not isinstance(params, dict):
        raise SerializationException("The request body must be a JSON object")
    errors: list[str] = []
    for name in _ALSO_REQUIRED.get(operation, ()):
        if params.get(name) is None:
            errors.append(f"Value null at '{_camel(name)}' failed to satisfy constraint: Member must not be null")
    result = request_checker(operation)(params, "", errors)
    if errors:
        raise validation_error(errors)
    out: dict[str, Any] = result
    return out
