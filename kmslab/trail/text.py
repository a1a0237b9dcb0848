"""How a CloudTrail record's values are written: standard JSON, valid UTF-8 text and CloudTrail's time formats.

A record holds standard JSON only (RFC 8259), whatever the request held: an unpaired surrogate (a JSON
``"\ud800"`` escape) in caller-supplied text becomes U+FFFD, the Unicode replacement character, and a
NaN or infinite number becomes null, so every reader of the trail (DuckDB, Athena, ``json.loads``) can
parse it. :func:`record_json` and :func:`records_json` are the strict serializers for writing records.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "cloudtrail_date",
    "format_event_time",
    "lower_camel",
    "plain_copy",
    "record_json",
    "records_json",
    "standard_text",
]

_SURROGATE = re.compile("[\ud800-\udfff]")
#: Request parameters nested deeper than this are recorded as null (CloudTrail records have a size
#: limit too); it keeps a hostile request from failing the copy and so going unrecorded.
_MAX_DEPTH = 32


def standard_text(text: str) -> str:
    """Return text that encodes to UTF-8: unpaired surrogates become U+FFFD.

    Args:
        text: any Python string (a JSON ``"\ud800"`` escape decodes to an unpaired surrogate).

    Returns:
        The same text when it is valid, else a copy with U+FFFD for each unpaired surrogate.
    """
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", text)


#: one strict encoder for every record written (built once: ``json.dumps`` with options builds one per call)
_STRICT = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def record_json(record: Mapping[str, Any]) -> bytes:
    """Serialize one record in standard JSON only, as it goes into a log file's ``Records`` array.

    Args:
        record: a CloudTrail record (from :func:`to_cloudtrail_record`).

    Returns:
        The record as UTF-8 JSON bytes.

    Raises:
        ValueError: the record holds NaN, an infinity or an unpaired surrogate (a record built by
            :func:`to_cloudtrail_record` never does).
    """
    return _STRICT.encode(record).encode("utf-8")  # strict: an unpaired surrogate raises UnicodeEncodeError


def records_json(records: Iterable[Mapping[str, Any]]) -> bytes:
    """Serialize records as a CloudTrail log file body, in standard JSON only.

    Args:
        records: CloudTrail records (from :func:`to_cloudtrail_record`).

    Returns:
        ``{"Records": [...]}`` as UTF-8 bytes.

    Raises:
        ValueError: a record holds NaN, an infinity or an unpaired surrogate (a record built by
            :func:`to_cloudtrail_record` never does).
    """
    return _STRICT.encode({"Records": list(records)}).encode("utf-8")  # strict, as in record_json


def format_event_time(moment: datetime) -> str:
    """Return CloudTrail's ``eventTime`` text for a moment.

    Args:
        moment: a timezone-aware (or UTC-naive) datetime.

    Returns:
        ISO 8601 in UTC to the second with a ``Z`` suffix, e.g. ``2026-01-01T12:00:00Z``.
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def lower_camel(name: str) -> str:
    """Return a wire field name as CloudTrail spells it (first letter lower-cased).

    Args:
        name: the API field name, e.g. ``EncryptionContext`` or ``AWSAccountId``.

    Returns:
        ``encryptionContext``, ``aWSAccountId`` (CloudTrail lower-cases only the first letter).
    """
    return name[:1].lower() + name[1:]


def cloudtrail_date(value: float | datetime) -> str:
    """Return a timestamp as CloudTrail prints dates inside ``responseElements``.

    Args:
        value: epoch seconds or a datetime.

    Returns:
        For example ``Dec 4, 2023, 12:00:00 AM`` (UTC).
    """
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(float(value), UTC)
    moment = moment.astimezone(UTC)
    hour = moment.hour % 12 or 12
    return f"{moment:%b} {moment.day}, {moment.year}, {hour}:{moment:%M:%S} {'AM' if moment.hour < 12 else 'PM'}"


def plain_copy(value: Any, depth: int = 0) -> Any:
    """Copy JSON-like data as standard JSON values, so a record never aliases the caller's request."""
    if isinstance(value, str):
        return standard_text(value)
    if isinstance(value, bool | int | None):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= _MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        return {standard_text(str(k)): plain_copy(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_copy(v, depth + 1) for v in value]
    return None  # bytes and anything else that is not JSON
